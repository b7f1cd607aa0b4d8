package com.android.org.conscrypt;

import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;

/** Certificate pinning for TrustManagerImpl, checked on the whole verified chain (AOSP shape). */
public interface CertPinManager {
    void checkChainPinning(String hostname, List<X509Certificate> chain) throws CertificateException;
}
