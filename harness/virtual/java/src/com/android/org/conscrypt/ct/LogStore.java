package com.android.org.conscrypt.ct;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Set;

/**
 * The CT logs the handset knows (its log list): the virtual internet's two logs, whose ids
 * are SHA-256 of their names (harness/virtual/internet/ca.py embeds SCTs from both).
 */
public final class LogStore {
    public static final String[] LOG_NAMES = {"virtual-internet-ct-log-1", "virtual-internet-ct-log-2"};

    private LogStore() {}

    public static Set<String> knownLogs() {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            String[] ids = new String[LOG_NAMES.length];
            for (int i = 0; i < LOG_NAMES.length; i++) {
                StringBuilder hex = new StringBuilder();
                for (byte b : sha.digest(LOG_NAMES[i].getBytes(StandardCharsets.US_ASCII))) {
                    hex.append(String.format("%02x", b & 0xff));
                }
                ids[i] = hex.toString();
            }
            return Set.of(ids);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
