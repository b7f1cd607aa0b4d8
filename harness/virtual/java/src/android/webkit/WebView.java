package android.webkit;

import android.content.Context;
import android.net.http.SslError;
import android.net.http.X509TrustManagerExtensions;
import com.labvirt.net.HttpClient;
import com.labvirt.net.Request;
import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.Map;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * android.webkit.WebView: loads a URL through Chromium's network stack, which verifies the
 * server's chain with the platform trust manager (X509TrustManagerExtensions, as Chromium's
 * X509Util does) and, on a certificate error, pauses the handshake to ask the app's
 * WebViewClient.onReceivedSslError: proceed() continues, cancel() (the default) aborts.
 */
public class WebView {
    private final Context context;
    private WebViewClient client = new WebViewClient();
    private Request networkConfig = new Request();
    private int lastStatus = -1;
    private String lastError;

    public WebView(Context context) {
        this.context = context;
    }

    /** Not Android API: the app's Network Security Config (user CAs, CT), from its request. */
    public void setNetworkSecurityConfig(Request config) {
        this.networkConfig = config;
    }

    public void setWebViewClient(WebViewClient client) {
        this.client = client;
    }

    public WebViewClient getWebViewClient() {
        return client;
    }

    public void loadUrl(String url, Map<String, String> additionalHttpHeaders) {
        Request r = new Request();
        r.method = "GET";
        r.url = url;
        r.headers.putAll(additionalHttpHeaders);
        load(r);
    }

    public void postUrl(String url, byte[] postData) {
        Request r = new Request();
        r.url = url;
        r.body = postData;
        r.headers.put("Content-Type", "application/x-www-form-urlencoded");
        load(r);
    }

    /** The platform request a load builds, sent through Chromium's verifier. */
    private void load(Request r) {
        r.trustUserCas = networkConfig.trustUserCas;
        r.certificateTransparency = networkConfig.certificateTransparency;
        r.headers.putIfAbsent("User-Agent", "Mozilla/5.0 (Linux; Android " + android.os.Build.VERSION.RELEASE
                + "; " + android.os.Build.MODEL + "; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 "
                + "Chrome/124.0.6367.82 Mobile Safari/537.36");
        try {
            r.trustManager = new ChromiumVerifier(this, r.url, HttpClient.platformTrustManager(r, null));
            lastStatus = HttpClient.execute(r);
            lastError = null;
            client.onPageFinished(this, r.url);
        } catch (Exception e) {
            lastStatus = -1;
            lastError = e.toString();
        }
    }

    /** Not Android API (a page load reports through the client): the last load's HTTP status, or -1. */
    public int getLastStatus() {
        return lastStatus;
    }

    public String getLastError() {
        return lastError;
    }

    /** Chromium's certificate verification for one load (net::CertVerifyProcAndroid). */
    static final class ChromiumVerifier extends X509ExtendedTrustManager {
        private final WebView view;
        private final String url;
        private final X509TrustManager platform;

        ChromiumVerifier(WebView view, String url, X509TrustManager platform) {
            this.view = view;
            this.url = url;
            this.platform = platform;
        }

        private void verify(X509Certificate[] chain, String authType, String host) throws CertificateException {
            try {
                new X509TrustManagerExtensions(platform).checkServerTrusted(chain, authType, host);
            } catch (CertificateException e) {
                SslErrorHandler handler = new SslErrorHandler();
                view.client.onReceivedSslError(view, handler, new SslError(SslError.SSL_UNTRUSTED, chain[0], url));
                if (!handler.proceeded()) {
                    throw new CertificateException("net::ERR_CERT_AUTHORITY_INVALID", e);
                }
            }
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            verify(chain, authType, HttpClient.peerHost(socket));
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            verify(chain, authType, engine.getPeerHost());
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            verify(chain, authType, null);
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
            return platform.getAcceptedIssuers();
        }
    }
}
