package com.android.org.conscrypt;

import java.io.ByteArrayInputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import okhttp3.CertificatePinner;

/**
 * The platform trust manager: trusts only the CA files of the handset's stores that this app
 * reads (system store; user store only for apps that opt in), then applies okhttp pins.
 */
public final class TrustManagerImpl extends X509ExtendedTrustManager {
    private final X509ExtendedTrustManager delegate;
    private final CertificatePinner pinner;

    public TrustManagerImpl(List<String> caPems, CertificatePinner pinner) throws Exception {
        this.pinner = pinner;
        KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
        ks.load(null, null);
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        int n = 0;
        for (String pem : caPems) {
            try {
                X509Certificate c = (X509Certificate) cf.generateCertificate(
                        new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)));
                ks.setCertificateEntry("ca" + n++, c);
            } catch (CertificateException e) {
                // a malformed file in the store is skipped, as Android does
            }
        }
        if (n == 0) {
            delegate = null;
            return;
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(ks);
        X509ExtendedTrustManager found = null;
        for (TrustManager tm : tmf.getTrustManagers()) {
            if (tm instanceof X509ExtendedTrustManager) found = (X509ExtendedTrustManager) tm;
        }
        delegate = found;
    }

    private X509ExtendedTrustManager delegate() throws CertificateException {
        if (delegate == null) {
            throw new CertificateException("java.security.cert.CertPathValidatorException: "
                    + "Trust anchor for certification path not found.");
        }
        return delegate;
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        try {
            delegate().checkServerTrusted(chain, authType, socket);
        } catch (CertificateException e) {
            throw new CertificateException("java.security.cert.CertPathValidatorException: "
                    + "Trust anchor for certification path not found.", e);
        }
        String host = null;
        if (socket instanceof SSLSocket && ((SSLSocket) socket).getHandshakeSession() != null) {
            host = ((SSLSocket) socket).getHandshakeSession().getPeerHost();
        }
        checkPins(host, chain);
    }

    private void checkPins(String host, X509Certificate[] chain) throws CertificateException {
        if (pinner == null || host == null) return;
        try {
            pinner.check(host, Arrays.asList(chain));
        } catch (SSLPeerUnverifiedException e) {
            throw new CertificateException(e.getMessage(), e);
        }
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        delegate().checkServerTrusted(chain, authType, engine);
        checkPins(engine == null ? null : engine.getPeerHost(), chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        delegate().checkServerTrusted(chain, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        throw new CertificateException("client certificates are not used");
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        throw new CertificateException("client certificates are not used");
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        throw new CertificateException("client certificates are not used");
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return delegate == null ? new X509Certificate[0] : delegate.getAcceptedIssuers();
    }
}
