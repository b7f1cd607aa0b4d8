package com.android.org.conscrypt.ct;

import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Set;

/**
 * Reads the SCTs embedded in the leaf (X.509 extension 1.3.6.1.4.1.11129.2.4.2, RFC 6962
 * 3.3) and sorts them by log: an SCT from a log of the log store is valid. Signatures are
 * not checked; the log store lists the virtual internet's logs by id.
 */
public final class Verifier {
    public static final String SCT_LIST_OID = "1.3.6.1.4.1.11129.2.4.2";
    private final Set<String> knownLogs;

    public Verifier(Set<String> knownLogs) {
        this.knownLogs = knownLogs;
    }

    public VerificationResult verifySignedCertificateTimestamps(List<X509Certificate> chain, byte[] tlsData,
                                                                byte[] ocspData) {
        VerificationResult result = new VerificationResult();
        byte[] ext = chain.isEmpty() ? null : chain.get(0).getExtensionValue(SCT_LIST_OID);
        if (ext == null) return result;
        try {
            byte[] list = octets(octets(ext));
            int total = u16(list, 0);
            int at = 2;
            while (at < 2 + total && at + 2 <= list.length) {
                int len = u16(list, at);
                at += 2;
                if (len < 33 || at + len > list.length) break;
                StringBuilder id = new StringBuilder();
                for (int i = 1; i < 33; i++) id.append(String.format("%02x", list[at + i] & 0xff));
                result.add(id.toString(), list[at] == 0 && knownLogs.contains(id.toString()));
                at += len;
            }
        } catch (IndexOutOfBoundsException e) {
            return result;  // a garbled list counts no SCT
        }
        return result;
    }

    private static int u16(byte[] b, int at) {
        return ((b[at] & 0xff) << 8) | (b[at + 1] & 0xff);
    }

    /** The contents of a DER OCTET STRING. */
    private static byte[] octets(byte[] der) {
        if (der[0] != 0x04) throw new IndexOutOfBoundsException("not an OCTET STRING");
        int len = der[1] & 0xff;
        int at = 2;
        if (len > 0x80) {
            int n = len & 0x7f;
            len = 0;
            for (int i = 0; i < n; i++) len = (len << 8) | (der[at++] & 0xff);
        }
        byte[] out = new byte[len];
        System.arraycopy(der, at, out, 0, len);
        return out;
    }
}
