package com.labvirt.net;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.net.ssl.HostnameVerifier;
import javax.net.ssl.X509TrustManager;

/** One HTTP request an app sends, and how its SDK connects. */
public final class Request {
    public String method = "POST";
    public String url;
    public final Map<String, String> headers = new LinkedHashMap<>();
    public byte[] body;
    public boolean ignoreProxy;
    public boolean trustUserCas;
    public boolean certificateTransparency;
    /** conscrypt | hostname_verifier | webview | cronet | boringssl | flutter (AppNetwork). */
    public String tls = "conscrypt";
    public final List<String> pins = new ArrayList<>();
    /** Set by the stack that sends it: WebView's verifier, the app's HostnameVerifier. */
    public X509TrustManager trustManager;
    public HostnameVerifier hostnameVerifier;
}
