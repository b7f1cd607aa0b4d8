package android.net.http;

import java.security.cert.X509Certificate;

/** android.net.http.SslError: what WebView hands WebViewClient.onReceivedSslError. */
public class SslError {
    public static final int SSL_NOTYETVALID = 0;
    public static final int SSL_EXPIRED = 1;
    public static final int SSL_IDMISMATCH = 2;
    public static final int SSL_UNTRUSTED = 3;
    public static final int SSL_DATE_INVALID = 4;
    public static final int SSL_INVALID = 5;

    private final int error;
    private final X509Certificate certificate;
    private final String url;

    public SslError(int error, X509Certificate certificate, String url) {
        this.error = error;
        this.certificate = certificate;
        this.url = url;
    }

    public int getPrimaryError() {
        return error;
    }

    public String getUrl() {
        return url;
    }

    public X509Certificate getCertificate() {
        return certificate;
    }

    @Override
    public String toString() {
        return "primary error: " + error + " certificate: "
                + (certificate == null ? "null" : certificate.getSubjectX500Principal().getName())
                + " on URL: " + url;
    }
}
