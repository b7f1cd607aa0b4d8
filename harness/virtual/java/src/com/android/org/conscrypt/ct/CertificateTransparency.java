package com.android.org.conscrypt.ct;

import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;

/**
 * Conscrypt's Certificate Transparency subsystem (Android 16, AOSP external/conscrypt
 * ct/CertificateTransparency): verifier and policy; a chain that does not comply is refused.
 */
public class CertificateTransparency {
    private final Verifier verifier;
    private final PolicyImpl policy;

    public CertificateTransparency(PolicyImpl policy, Verifier verifier) {
        this.policy = policy;
        this.verifier = verifier;
    }

    public void checkCT(List<X509Certificate> chain, byte[] ocspData, byte[] tlsData, String host)
            throws CertificateException {
        VerificationResult result = verifier.verifySignedCertificateTimestamps(chain, tlsData, ocspData);
        PolicyCompliance compliance = policy.doesResultConformToPolicy(result, chain.get(0));
        if (compliance != PolicyCompliance.COMPLY) {
            throw new CertificateException(
                    "Certificate chain does not conform to required transparency policy: " + compliance.name());
        }
    }
}
