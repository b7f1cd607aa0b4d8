package okhttp3;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLPeerUnverifiedException;

/** okhttp3.CertificatePinner: SPKI sha256 pins per hostname, checked on every TLS connection. */
public class CertificatePinner {
    private final Map<String, List<String>> pins;

    protected CertificatePinner(Map<String, List<String>> pins) {
        this.pins = pins;
    }

    public void check(String hostname, List<Certificate> peerCertificates) throws SSLPeerUnverifiedException {
        List<String> wanted = pins.get(hostname);
        if (wanted == null || wanted.isEmpty()) return;
        for (Certificate c : peerCertificates) {
            if (wanted.contains(pin(c))) return;
        }
        StringBuilder msg = new StringBuilder("Certificate pinning failure!\n  Peer certificate chain:");
        for (Certificate c : peerCertificates) {
            msg.append("\n    ").append(pin(c)).append(": ");
            if (c instanceof X509Certificate) msg.append(((X509Certificate) c).getSubjectX500Principal().getName());
        }
        msg.append("\n  Pinned certificates for ").append(hostname).append(":");
        for (String p : wanted) msg.append("\n    ").append(p);
        throw new SSLPeerUnverifiedException(msg.toString());
    }

    public static String pin(Certificate certificate) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(certificate.getPublicKey().getEncoded());
            return "sha256/" + Base64.getEncoder().encodeToString(d);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public static final class Builder {
        private final Map<String, List<String>> pins = new LinkedHashMap<>();

        public Builder add(String pattern, String... values) {
            List<String> l = pins.computeIfAbsent(pattern, k -> new ArrayList<>());
            for (String v : values) l.add(v);
            return this;
        }

        public CertificatePinner build() {
            return new CertificatePinner(pins);
        }
    }
}
