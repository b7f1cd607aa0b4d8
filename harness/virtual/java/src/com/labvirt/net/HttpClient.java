package com.labvirt.net;

import android.os.Build;
import com.android.okhttp.internal.tls.OkHostnameVerifier;
import com.android.org.conscrypt.CertPinManager;
import com.android.org.conscrypt.ConscryptNetworkSecurityPolicy;
import com.android.org.conscrypt.TrustManagerImpl;
import com.android.org.conscrypt.ct.CertificateTransparency;
import com.android.org.conscrypt.ct.LogStore;
import com.android.org.conscrypt.ct.PolicyImpl;
import com.android.org.conscrypt.ct.Verifier;
import com.labvirt.runtime.Device;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.net.ssl.HostnameVerifier;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import okhttp3.CertificatePinner;
import okhttp3.internal.platform.android.AndroidCertificateChainCleaner;

/**
 * HTTP/1.1 over plain sockets, as the app's network stack: the handset's http_proxy
 * (absolute URI for http, CONNECT for https), or a direct connection through the zone's
 * resolver; TLS through the platform trust manager (the handset's CA stores, Certificate
 * Transparency when an Android 16 app requires it) or the one the request brings (WebView's).
 * OkHttp pins are checked in the handshake (as a pin manager) and after it on the chain the
 * platform verified (AndroidCertificateChainCleaner, as OkHttp does); the host name is
 * verified after the handshake by the request's HostnameVerifier or the platform default.
 */
public final class HttpClient {
    private static final int CONNECT_TIMEOUT_MS = 5000;
    private static final int READ_TIMEOUT_MS = 15000;

    private HttpClient() {}

    public static int execute(Request r) throws Exception {
        URI uri = new URI(r.url);
        String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
        boolean tls = scheme.equals("https");
        String host = uri.getHost();
        int port = uri.getPort() > 0 ? uri.getPort() : (tls ? 443 : 80);
        InetSocketAddress route = route(r, host, port);
        String proxy = r.ignoreProxy ? null : (String) Device.query("proxy", null);
        Socket sock = new Socket();
        try {
            sock.connect(route, CONNECT_TIMEOUT_MS);
            sock.setSoTimeout(READ_TIMEOUT_MS);
            Socket io = sock;
            if (tls) {
                if (proxy != null) connectTunnel(sock, host, port, r.headers.get("User-Agent"));
                io = handshake(sock, host, port, r);
            }
            String target = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
            if (uri.getRawQuery() != null) target += "?" + uri.getRawQuery();
            if (proxy != null && !tls) target = scheme + "://" + authority(host, port, 80) + target;
            writeRequest(io.getOutputStream(), r, target, authority(host, port, tls ? 443 : 80));
            return readResponse(new BufferedInputStream(io.getInputStream()));
        } finally {
            sock.close();
        }
    }

    /** Where a connection to host:port goes: the handset's proxy when one is set (and the
     * request does not ignore it), else where the resolver says the host is (RawSockets.address). */
    public static InetSocketAddress route(Request r, String host, int port) throws IOException {
        String proxy = r.ignoreProxy ? null : (String) Device.query("proxy", null);
        if (proxy != null) {
            int colon = proxy.lastIndexOf(':');
            return new InetSocketAddress(mapLoopback(proxy.substring(0, colon)),
                    Integer.parseInt(proxy.substring(colon + 1)));
        }
        return RawSockets.address(host, port);
    }

    /** Whether route() leads to the proxy (then TLS goes through a CONNECT tunnel). */
    public static boolean viaProxy(Request r) {
        return !r.ignoreProxy && Device.query("proxy", null) != null;
    }

    static String authority(String host, int port, int dflt) {
        return port == dflt ? host : host + ":" + port;
    }

    /** What the phone calls 127.0.0.1 is the handset's own loopback address. */
    private static String mapLoopback(String host) throws ConnectException {
        if (host.equals("127.0.0.1") || host.equalsIgnoreCase("localhost")) {
            return Device.envString("device_loopback", "127.0.0.1");
        }
        if (host.startsWith("127.")) return host;
        throw new ConnectException("failed to connect to " + host + ": Network is unreachable");
    }

    private static void connectTunnel(Socket sock, String host, int port, String ua) throws IOException {
        String req = "CONNECT " + host + ":" + port + " HTTP/1.1\r\nHost: " + host + ":" + port
                + "\r\nProxy-Connection: Keep-Alive\r\n" + (ua == null ? "" : "User-Agent: " + ua + "\r\n")
                + "\r\n";
        sock.getOutputStream().write(req.getBytes(StandardCharsets.ISO_8859_1));
        sock.getOutputStream().flush();
        InputStream in = sock.getInputStream();
        String status = readLine(in);
        while (true) {
            String h = readLine(in);
            if (h == null || h.isEmpty()) break;
        }
        if (status == null || status.split(" ").length < 2 || !status.split(" ")[1].equals("200")) {
            throw new IOException("Unexpected response code for CONNECT: " + status);
        }
    }

    private static Socket handshake(Socket sock, String host, int port, Request r) throws Exception {
        CertificatePinner pinner = null;
        if (!r.pins.isEmpty() && r.hostnameVerifier == null && r.trustManager == null) {
            pinner = new CertificatePinner.Builder().add(host, r.pins.toArray(new String[0])).build();
        }
        X509TrustManager tm = r.trustManager != null ? r.trustManager
                : platformTrustManager(r, pinner == null ? null : new PinnerPinManager(pinner));
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, new TrustManager[] {tm}, null);
        SSLSocket ssl = (SSLSocket) ctx.getSocketFactory().createSocket(sock, host, port, true);
        SSLParameters params = ssl.getSSLParameters();
        params.setServerNames(List.of(new SNIHostName(host)));
        params.setEndpointIdentificationAlgorithm("HTTPS");
        ssl.setSSLParameters(params);
        ssl.startHandshake();
        if (pinner != null) {
            List<Certificate> peer = Arrays.asList(ssl.getSession().getPeerCertificates());
            pinner.check(host, new AndroidCertificateChainCleaner(tm).clean(peer, host));
        }
        HostnameVerifier verifier = r.hostnameVerifier != null ? r.hostnameVerifier : OkHostnameVerifier.INSTANCE;
        if (!verifier.verify(host, ssl.getSession())) {
            X509Certificate leaf = (X509Certificate) ssl.getSession().getPeerCertificates()[0];
            throw new SSLPeerUnverifiedException("Hostname " + host + " not verified:\n    certificate: "
                    + CertificatePinner.pin(leaf) + "\n    DN: " + leaf.getSubjectX500Principal().getName());
        }
        return ssl;
    }

    /** The app's platform trust manager: its CA stores (system; user too if it opts in), the
     * pin manager, and Certificate Transparency when the app requires it on Android 16+. */
    @SuppressWarnings("unchecked")
    public static TrustManagerImpl platformTrustManager(Request r, CertPinManager pins) throws Exception {
        List<Object> pems = (List<Object>) Device.query("cacerts", r.trustUserCas ? "user" : "system");
        KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
        ks.load(null, null);
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        int n = 0;
        for (Object pem : pems == null ? List.of() : pems) {
            try {
                ks.setCertificateEntry("ca" + n++, cf.generateCertificate(
                        new java.io.ByteArrayInputStream(pem.toString().getBytes(StandardCharsets.US_ASCII))));
            } catch (CertificateException e) {
                // a malformed file in the store is skipped, as Android does
            }
        }
        boolean ctRequired = r.certificateTransparency && Build.VERSION.SDK_INT >= 36;
        CertificateTransparency ct = ctRequired
                ? new CertificateTransparency(new PolicyImpl(), new Verifier(LogStore.knownLogs())) : null;
        return new TrustManagerImpl(ks, pins, new ConscryptNetworkSecurityPolicy(ctRequired), ct);
    }

    /** The host a TLS socket is being verified for, during its handshake (null otherwise). */
    public static String peerHost(Socket socket) {
        if (socket instanceof SSLSocket && ((SSLSocket) socket).getHandshakeSession() != null) {
            return ((SSLSocket) socket).getHandshakeSession().getPeerHost();
        }
        return null;
    }

    /** OkHttp's pins, checked by the platform trust manager on the chain it verified. */
    private static final class PinnerPinManager implements CertPinManager {
        private final CertificatePinner pinner;

        PinnerPinManager(CertificatePinner pinner) {
            this.pinner = pinner;
        }

        @Override
        public void checkChainPinning(String hostname, List<X509Certificate> chain) throws CertificateException {
            if (hostname == null) return;
            try {
                pinner.check(hostname, new java.util.ArrayList<Certificate>(chain));
            } catch (SSLPeerUnverifiedException e) {
                throw new CertificateException(e.getMessage(), e);
            }
        }
    }

    private static void writeRequest(OutputStream out, Request r, String target, String hostHeader)
            throws IOException {
        out.write(requestBytes(r, target, hostHeader, "Keep-Alive"));
        out.flush();
    }

    /** The request as HTTP/1.1 bytes: request line, headers, body. */
    static byte[] requestBytes(Request r, String target, String hostHeader, String connection) {
        StringBuilder b = new StringBuilder();
        b.append(r.method).append(' ').append(target).append(" HTTP/1.1\r\n");
        b.append("Host: ").append(hostHeader).append("\r\n");
        for (Map.Entry<String, String> e : r.headers.entrySet()) {
            b.append(e.getKey()).append(": ").append(e.getValue()).append("\r\n");
        }
        if (r.body != null) b.append("Content-Length: ").append(r.body.length).append("\r\n");
        b.append("Connection: ").append(connection).append("\r\nAccept-Encoding: gzip\r\n\r\n");
        byte[] head = b.toString().getBytes(StandardCharsets.ISO_8859_1);
        if (r.body == null) return head;
        byte[] all = Arrays.copyOf(head, head.length + r.body.length);
        System.arraycopy(r.body, 0, all, head.length, r.body.length);
        return all;
    }

    static int readResponse(InputStream in) throws IOException {
        String status = readLine(in);
        if (status == null) throw new IOException("unexpected end of stream");
        String[] parts = status.split(" ");
        if (parts.length < 2) throw new IOException("Unexpected status line: " + status);
        int code = Integer.parseInt(parts[1]);
        long length = -1;
        boolean chunked = false;
        while (true) {
            String h = readLine(in);
            if (h == null || h.isEmpty()) break;
            String lower = h.toLowerCase(Locale.ROOT);
            if (lower.startsWith("content-length:")) length = Long.parseLong(h.substring(15).trim());
            if (lower.startsWith("transfer-encoding:") && lower.contains("chunked")) chunked = true;
        }
        if (chunked) {
            while (true) {
                String sz = readLine(in);
                if (sz == null) break;
                int n = Integer.parseInt(sz.split(";")[0].trim(), 16);
                skip(in, n);
                readLine(in);
                if (n == 0) break;
            }
        } else if (length >= 0) {
            skip(in, length);
        }
        return code;
    }

    private static void skip(InputStream in, long n) throws IOException {
        while (n > 0) {
            if (in.read() < 0) return;
            n--;
        }
    }

    private static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        while (true) {
            int c = in.read();
            if (c < 0) return b.size() == 0 ? null : b.toString(StandardCharsets.ISO_8859_1);
            if (c == '\n') break;
            if (c != '\r') b.write(c);
            if (b.size() > 65536) throw new IOException("header line too long");
        }
        return b.toString(StandardCharsets.ISO_8859_1);
    }
}
