package okhttp3.internal.platform.android;

import android.net.http.X509TrustManagerExtensions;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.X509TrustManager;

/** OkHttp 4's chain cleaner on Android: the platform's verified chain, for CertificatePinner. */
public final class AndroidCertificateChainCleaner {
    private final X509TrustManagerExtensions extensions;

    public AndroidCertificateChainCleaner(X509TrustManager trustManager) {
        this.extensions = new X509TrustManagerExtensions(trustManager);
    }

    public List<Certificate> clean(List<Certificate> chain, String hostname) throws SSLPeerUnverifiedException {
        X509Certificate[] certificates = chain.toArray(new X509Certificate[0]);
        try {
            return new ArrayList<>(extensions.checkServerTrusted(certificates, "RSA", hostname));
        } catch (CertificateException ce) {
            SSLPeerUnverifiedException e = new SSLPeerUnverifiedException(ce.getMessage());
            e.initCause(ce);
            throw e;
        }
    }
}
