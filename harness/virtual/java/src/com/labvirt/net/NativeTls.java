package com.labvirt.net;

import com.labvirt.runtime.Device;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * A native TLS stack (harness/virtual/java/native/vtls.c) loaded through JNI, as a Flutter or
 * Cronet app carries one: cronet and boringssl use libsscronet.so (BoringSSL's API exported;
 * cronet sets its own verify callback with SSL_set_custom_verify, boringssl verifies the chain
 * in ssl_crypto_x509_session_verify_cert_chain), flutter uses the stripped libflutter.so. The
 * library verifies against the handset's system store (the user store if the app opts in),
 * so Java-level unpinning does not reach it.
 */
public final class NativeTls {
    /** The native libraries' folder, relative to the jar's, written into the jar (jar.py). */
    private static final String NATIVE_DIR_RESOURCE = "/labvirt-native.txt";
    private static final Set<String> LOADED = new HashSet<>();

    private NativeTls() {}

    @SuppressWarnings("unchecked")
    public static int execute(Request r) throws Exception {
        URI uri = new URI(r.url);
        if (!uri.getScheme().toLowerCase(Locale.ROOT).equals("https")) {
            throw new IOException("the native TLS stack sends https only: " + r.url);
        }
        String host = uri.getHost();
        int port = uri.getPort() > 0 ? uri.getPort() : 443;
        boolean stripped = r.tls.equals("flutter");
        load(stripped ? "libflutter.so" : "libsscronet.so");
        InetSocketAddress route = HttpClient.route(r, host, port);
        String tunnel = HttpClient.viaProxy(r) ? host + ":" + port : null;
        ByteArrayOutputStream roots = new ByteArrayOutputStream();
        List<Object> pems = (List<Object>) Device.query("cacerts", r.trustUserCas ? "user" : "system");
        for (Object pem : pems == null ? List.of() : pems) {
            roots.write(pem.toString().getBytes(StandardCharsets.US_ASCII));
            roots.write('\n');
        }
        String target = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
        if (uri.getRawQuery() != null) target += "?" + uri.getRawQuery();
        byte[] request = HttpClient.requestBytes(r, target, HttpClient.authority(host, port, 443), "close");
        int mode = r.tls.equals("cronet") ? 1 : stripped ? 2 : 0;
        String connectHost = route.getHostString();
        byte[] response = stripped
                ? exchangeStripped(connectHost, route.getPort(), tunnel, host, request, roots.toByteArray(), mode)
                : exchangeExported(connectHost, route.getPort(), tunnel, host, request, roots.toByteArray(), mode);
        return HttpClient.readResponse(new ByteArrayInputStream(response));
    }

    private static synchronized void load(String name) throws IOException, URISyntaxException {
        if (LOADED.contains(name)) return;
        Path dir = nativeDir();
        Path lib = dir.resolve(name);
        if (!Files.exists(lib)) {
            Path failed = dir.resolve("BUILD-FAILED");
            String why = Files.exists(failed) ? Files.readString(failed).trim() : "not built";
            throw new IOException("native TLS library " + lib + " is missing: " + why);
        }
        System.load(lib.toString());
        LOADED.add(name);
    }

    private static Path nativeDir() throws IOException, URISyntaxException {
        String relative;
        try (InputStream in = NativeTls.class.getResourceAsStream(NATIVE_DIR_RESOURCE)) {
            if (in == null) throw new IOException("the jar names no native library folder");
            relative = new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
        }
        Path jar = Paths.get(NativeTls.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        return jar.getParent().resolve(relative).normalize();
    }

    private static native byte[] exchangeExported(String connectHost, int connectPort, String tunnel, String host,
                                                  byte[] request, byte[] roots, int mode) throws IOException;

    private static native byte[] exchangeStripped(String connectHost, int connectPort, String tunnel, String host,
                                                  byte[] request, byte[] roots, int mode) throws IOException;
}
