package com.labvirt.net;

import android.content.Context;
import android.webkit.WebView;
import android.webkit.WebViewClient;
import com.labvirt.app.PinningHostnameVerifier;
import java.io.IOException;

/**
 * How an app's SDK sends a request, by the stack its behaviours name (`tls`): the platform
 * stack (conscrypt: okhttp pins, CT), an HttpsURLConnection-style client with the app's own
 * pinning HostnameVerifier, a WebView, or a native BoringSSL-shaped stack (NativeTls).
 */
public final class AppNetwork {
    private AppNetwork() {}

    public static int send(Context context, Request r) throws Exception {
        if (RawSockets.handles(r.url)) return RawSockets.send(r);
        switch (r.tls) {
            case "webview":
                return webview(context, r);
            case "hostname_verifier":
                r.hostnameVerifier = new PinningHostnameVerifier(r.pins);
                return HttpClient.execute(r);
            case "cronet":
            case "boringssl":
            case "flutter":
                return NativeTls.execute(r);
            default:
                return HttpClient.execute(r);
        }
    }

    private static int webview(Context context, Request r) throws IOException {
        WebView view = new WebView(context);
        view.setNetworkSecurityConfig(r);
        view.setWebViewClient(new WebViewClient());
        if (r.method.equals("GET")) {
            view.loadUrl(r.url, r.headers);
        } else {
            view.postUrl(r.url, r.body == null ? new byte[0] : r.body);
        }
        if (view.getLastStatus() < 0) throw new IOException(view.getLastError());
        return view.getLastStatus();
    }
}
