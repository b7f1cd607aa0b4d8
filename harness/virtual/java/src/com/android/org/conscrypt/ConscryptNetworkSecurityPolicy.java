package com.android.org.conscrypt;

/**
 * What the app's Network Security Config tells TrustManagerImpl: here, whether Certificate
 * Transparency is required (Android 16: <certificateTransparency enabled="true"/>).
 */
public class ConscryptNetworkSecurityPolicy {
    private final boolean ctRequired;

    public ConscryptNetworkSecurityPolicy(boolean ctRequired) {
        this.ctRequired = ctRequired;
    }

    public static ConscryptNetworkSecurityPolicy getDefault() {
        return new ConscryptNetworkSecurityPolicy(false);
    }

    public boolean isCertificateTransparencyVerificationRequired(String hostname) {
        return ctRequired;
    }
}
