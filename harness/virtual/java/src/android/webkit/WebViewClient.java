package android.webkit;

import android.net.http.SslError;

/** android.webkit.WebViewClient: by default a certificate error cancels the load. */
public class WebViewClient {
    public void onReceivedSslError(WebView view, SslErrorHandler handler, SslError error) {
        handler.cancel();
    }

    public void onPageFinished(WebView view, String url) {}
}
