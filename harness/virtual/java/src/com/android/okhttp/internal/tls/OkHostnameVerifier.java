package com.android.okhttp.internal.tls;

import java.security.cert.Certificate;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.HostnameVerifier;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLSession;

/** The platform's default HostnameVerifier (HttpsURLConnection.getDefaultHostnameVerifier()). */
public final class OkHostnameVerifier implements HostnameVerifier {
    public static final OkHostnameVerifier INSTANCE = new OkHostnameVerifier();
    private static final int ALT_DNS_NAME = 2;

    private OkHostnameVerifier() {}

    @Override
    public boolean verify(String host, SSLSession session) {
        try {
            Certificate[] certificates = session.getPeerCertificates();
            return verify(host, (X509Certificate) certificates[0]);
        } catch (SSLException e) {
            return false;
        }
    }

    public boolean verify(String host, X509Certificate certificate) {
        String wanted = host.toLowerCase(Locale.US);
        try {
            if (certificate.getSubjectAlternativeNames() == null) return false;
            for (List<?> name : certificate.getSubjectAlternativeNames()) {
                if (((Integer) name.get(0)) != ALT_DNS_NAME) continue;
                String pattern = ((String) name.get(1)).toLowerCase(Locale.US);
                if (pattern.equals(wanted)) return true;
                if (pattern.startsWith("*.") && wanted.endsWith(pattern.substring(1))
                        && wanted.indexOf('.') == wanted.length() - pattern.length() + 1) {
                    return true;
                }
            }
        } catch (CertificateParsingException e) {
            return false;
        }
        return false;
    }
}
