package com.android.org.conscrypt.ct;

import java.util.ArrayList;
import java.util.List;

/** The SCTs of a chain, split into those from known logs and the others (log ids, hex). */
public final class VerificationResult {
    private final List<String> validSCTs = new ArrayList<>();
    private final List<String> invalidSCTs = new ArrayList<>();

    void add(String logId, boolean valid) {
        (valid ? validSCTs : invalidSCTs).add(logId);
    }

    public List<String> getValidSCTs() {
        return validSCTs;
    }

    public List<String> getInvalidSCTs() {
        return invalidSCTs;
    }
}
