package com.android.org.conscrypt;

import com.android.org.conscrypt.ct.CertificateTransparency;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertPath;
import java.security.cert.CertPathValidator;
import java.security.cert.CertPathValidatorException;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Enumeration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The platform trust manager in the shape of AOSP external/conscrypt TrustManagerImpl: the
 * void X509ExtendedTrustManager overloads, the overloads that return the verified chain
 * (hostname; Cronet's ocsp/sct; SSLSession; getTrustedChainForServer), and the private path
 * checkTrusted -> checkTrustedRecursive -> verifyChain, where the pin manager and (when the
 * policy asks for it) Certificate Transparency are checked. Trust anchors are the CA files of
 * the handset's stores this app reads (system store; the user store only for apps that opt in).
 */
public final class TrustManagerImpl extends X509ExtendedTrustManager {
    private static final int MAX_PATH_BUILD_ITERATIONS = 32;

    private final List<X509Certificate> anchors = new ArrayList<>();
    private final CertPinManager pinManager;
    private final ConscryptNetworkSecurityPolicy policy;
    private final CertificateTransparency ct;
    private final CertificateFactory factory;
    private final CertPathValidator validator;

    public TrustManagerImpl(KeyStore keyStore) {
        this(keyStore, null, ConscryptNetworkSecurityPolicy.getDefault(), null);
    }

    public TrustManagerImpl(KeyStore keyStore, CertPinManager manager, ConscryptNetworkSecurityPolicy policy,
                            CertificateTransparency ct) {
        this.pinManager = manager;
        this.policy = policy;
        this.ct = ct;
        try {
            Enumeration<String> aliases = keyStore.aliases();
            while (aliases.hasMoreElements()) {
                Certificate c = keyStore.getCertificate(aliases.nextElement());
                if (c instanceof X509Certificate) anchors.add((X509Certificate) c);
            }
            factory = CertificateFactory.getInstance("X.509");
            validator = CertPathValidator.getInstance("PKIX");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        checkTrusted(chain, authType, null, null, true);
    }

    public List<X509Certificate> checkClientTrusted(X509Certificate[] chain, String authType, String hostname)
            throws CertificateException {
        return checkTrusted(chain, null, null, authType, hostname, true);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        checkTrusted(chain, authType, sessionOf(socket), parametersOf(socket), true);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        checkTrusted(chain, authType, engine.getHandshakeSession(), engine.getSSLParameters(), true);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        checkTrusted(chain, authType, null, null, false);
    }

    /** For backward compatibility with older Android API that used String for the hostname only. */
    public List<X509Certificate> checkServerTrusted(X509Certificate[] chain, String authType, String hostname)
            throws CertificateException {
        return checkTrusted(chain, null, null, authType, hostname, false);
    }

    /** For network stacks that cannot provide an SSLSession nor a Socket (e.g., Cronet). */
    public List<X509Certificate> checkServerTrusted(X509Certificate[] chain, byte[] ocspData, byte[] tlsSctData,
                                                    String authType, String hostname)
            throws CertificateException {
        return checkTrusted(chain, ocspData, tlsSctData, authType, hostname, false);
    }

    public List<X509Certificate> getTrustedChainForServer(X509Certificate[] certs, String authType, Socket socket)
            throws CertificateException {
        return checkTrusted(certs, authType, sessionOf(socket), parametersOf(socket), false);
    }

    public List<X509Certificate> getTrustedChainForServer(X509Certificate[] certs, String authType,
                                                          SSLEngine engine) throws CertificateException {
        SSLSession session = engine.getHandshakeSession();
        if (session == null) throw new CertificateException("Not in handshake; no session available");
        return checkTrusted(certs, authType, session, engine.getSSLParameters(), false);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        getTrustedChainForServer(chain, authType, socket);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        getTrustedChainForServer(chain, authType, engine);
    }

    public List<X509Certificate> checkServerTrusted(X509Certificate[] chain, String authType, SSLSession session)
            throws CertificateException {
        return checkTrusted(chain, authType, session, null, false);
    }

    private static SSLSession sessionOf(Socket socket) throws CertificateException {
        if (!(socket instanceof SSLSocket)) return null;
        SSLSession session = ((SSLSocket) socket).getHandshakeSession();
        if (session == null) throw new CertificateException("Not in handshake; no session available");
        return session;
    }

    private static SSLParameters parametersOf(Socket socket) {
        return socket instanceof SSLSocket ? ((SSLSocket) socket).getSSLParameters() : null;
    }

    private List<X509Certificate> checkTrusted(X509Certificate[] certs, String authType, SSLSession session,
                                               SSLParameters parameters, boolean clientAuth)
            throws CertificateException {
        String hostname = session == null ? null : session.getPeerHost();
        return checkTrusted(certs, null, null, authType, hostname, clientAuth);
    }

    private List<X509Certificate> checkTrusted(X509Certificate[] certs, byte[] ocspData, byte[] tlsSctData,
                                               String authType, String host, boolean clientAuth)
            throws CertificateException {
        if (certs == null || certs.length == 0 || authType == null || authType.isEmpty()) {
            throw new IllegalArgumentException("null or zero-length parameter");
        }
        Set<X509Certificate> used = new HashSet<>();
        List<X509Certificate> untrustedChain = new ArrayList<>();
        List<TrustAnchor> trustedChain = new ArrayList<>();
        untrustedChain.add(certs[0]);
        used.add(certs[0]);
        int[] budget = {MAX_PATH_BUILD_ITERATIONS};
        return checkTrustedRecursive(certs, ocspData, tlsSctData, host, clientAuth, untrustedChain,
                trustedChain, used, budget);
    }

    private List<X509Certificate> checkTrustedRecursive(X509Certificate[] certs, byte[] ocspData,
                                                        byte[] tlsSctData, String host, boolean clientAuth,
                                                        List<X509Certificate> untrustedChain,
                                                        List<TrustAnchor> trustAnchorChain,
                                                        Set<X509Certificate> used, int[] budget)
            throws CertificateException {
        if (--budget[0] < 0) throw new CertificateException("Path-building iteration limit exceeded");
        CertificateException lastException = null;
        X509Certificate current = trustAnchorChain.isEmpty()
                ? untrustedChain.get(untrustedChain.size() - 1)
                : trustAnchorChain.get(trustAnchorChain.size() - 1).getTrustedCert();
        if (current.getIssuerX500Principal().equals(current.getSubjectX500Principal())) {
            return verifyChain(untrustedChain, trustAnchorChain, host, clientAuth, ocspData, tlsSctData);
        }
        boolean seenIssuer = false;
        for (X509Certificate anchor : anchors) {
            if (used.contains(anchor) || !issued(anchor, current)) continue;
            seenIssuer = true;
            used.add(anchor);
            trustAnchorChain.add(new TrustAnchor(anchor, null));
            try {
                return checkTrustedRecursive(certs, ocspData, tlsSctData, host, clientAuth, untrustedChain,
                        trustAnchorChain, used, budget);
            } catch (CertificateException ex) {
                lastException = ex;
            }
            trustAnchorChain.remove(trustAnchorChain.size() - 1);
            used.remove(anchor);
        }
        if (!trustAnchorChain.isEmpty()) {
            if (!seenIssuer) {
                return verifyChain(untrustedChain, trustAnchorChain, host, clientAuth, ocspData, tlsSctData);
            }
            throw lastException;
        }
        for (int i = 1; i < certs.length; i++) {
            X509Certificate candidate = certs[i];
            if (used.contains(candidate)
                    || !current.getIssuerX500Principal().equals(candidate.getSubjectX500Principal())) {
                continue;
            }
            used.add(candidate);
            untrustedChain.add(candidate);
            try {
                return checkTrustedRecursive(certs, ocspData, tlsSctData, host, clientAuth, untrustedChain,
                        trustAnchorChain, used, budget);
            } catch (CertificateException ex) {
                lastException = ex;
            }
            used.remove(candidate);
            untrustedChain.remove(untrustedChain.size() - 1);
        }
        if (lastException != null) throw lastException;
        throw new CertificateException(new CertPathValidatorException(
                "Trust anchor for certification path not found.", null, factory.generateCertPath(untrustedChain), -1));
    }

    private static boolean issued(X509Certificate issuer, X509Certificate cert) {
        if (!cert.getIssuerX500Principal().equals(issuer.getSubjectX500Principal())) return false;
        try {
            cert.verify(issuer.getPublicKey());
            return true;
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    private List<X509Certificate> verifyChain(List<X509Certificate> untrustedChain, List<TrustAnchor> trustAnchorChain,
                                              String host, boolean clientAuth, byte[] ocspData, byte[] tlsSctData)
            throws CertificateException {
        CertPath certPath = factory.generateCertPath(untrustedChain);
        if (trustAnchorChain.isEmpty()) {
            throw new CertificateException(new CertPathValidatorException(
                    "Trust anchor for certification path not found.", null, certPath, -1));
        }
        List<X509Certificate> wholeChain = new ArrayList<>(untrustedChain);
        for (TrustAnchor anchor : trustAnchorChain) wholeChain.add(anchor.getTrustedCert());
        if (pinManager != null) pinManager.checkChainPinning(host, wholeChain);
        if (!clientAuth && host != null && ct != null && policy.isCertificateTransparencyVerificationRequired(host)) {
            ct.checkCT(wholeChain, ocspData, tlsSctData, host);
        }
        try {
            PKIXParameters params = new PKIXParameters(Collections.singleton(trustAnchorChain.get(0)));
            params.setRevocationEnabled(false);
            validator.validate(certPath, params);
        } catch (GeneralSecurityException e) {
            throw new CertificateException("Chain validation failed", e);
        }
        return wholeChain;
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return anchors.toArray(new X509Certificate[0]);
    }
}
