package android.net.http;

import com.android.org.conscrypt.TrustManagerImpl;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.X509TrustManager;

/**
 * android.net.http.X509TrustManagerExtensions (AOSP frameworks/base): the verified chain
 * from the platform trust manager's checkServerTrusted(X509Certificate[], String, String),
 * the List-returning overload OkHttp's chain cleaner and WebView call.
 */
public class X509TrustManagerExtensions {
    private final TrustManagerImpl mDelegate;
    private final X509TrustManager mTrustManager;
    private final Method mCheckServerTrusted;

    public X509TrustManagerExtensions(X509TrustManager tm) throws IllegalArgumentException {
        if (tm instanceof TrustManagerImpl) {
            mDelegate = (TrustManagerImpl) tm;
            mTrustManager = null;
            mCheckServerTrusted = null;
            return;
        }
        mDelegate = null;
        mTrustManager = tm;
        try {
            mCheckServerTrusted = tm.getClass().getMethod("checkServerTrusted", X509Certificate[].class,
                    String.class, String.class);
        } catch (NoSuchMethodException e) {
            throw new IllegalArgumentException("Required method checkServerTrusted(X509Certificate[], String, "
                    + "String, String) missing");
        }
    }

    @SuppressWarnings("unchecked")
    public List<X509Certificate> checkServerTrusted(X509Certificate[] chain, String authType, String host)
            throws CertificateException {
        if (mDelegate != null) return mDelegate.checkServerTrusted(chain, authType, host);
        try {
            return (List<X509Certificate>) mCheckServerTrusted.invoke(mTrustManager, chain, authType, host);
        } catch (IllegalAccessException e) {
            throw new CertificateException("Failed to call checkServerTrusted", e);
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof CertificateException) throw (CertificateException) e.getCause();
            if (e.getCause() instanceof RuntimeException) throw (RuntimeException) e.getCause();
            throw new CertificateException("checkServerTrusted failed", e.getCause());
        }
    }
}
