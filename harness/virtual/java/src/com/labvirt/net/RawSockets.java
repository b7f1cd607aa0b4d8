package com.labvirt.net;

import com.labvirt.runtime.Device;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Sends that never read the proxy setting (behaviours `tcp://`, `udp://`, `dns://`,
 * `quic://`): a raw TCP push channel, a UDP datagram, a DNS lookup, an HTTP/3 upload.
 * Inside the handset namespace (-Dlabvirt.netns=1) addresses are the zone's world IPs,
 * reached only through the WireGuard tunnel, and DNS asks the tunnel's resolver; outside
 * it the zone's responders on loopback, and DNS never leaves the virtual zone.
 */
public final class RawSockets {
    private static final int TIMEOUT_MS = 3000;

    private RawSockets() {}

    public static boolean handles(String url) {
        String scheme = URI.create(url).getScheme();
        return scheme.equals("tcp") || scheme.equals("udp") || scheme.equals("dns") || scheme.equals("quic");
    }

    public static int send(Request r) throws IOException {
        URI u = URI.create(r.url);
        switch (u.getScheme()) {
            case "tcp":
                return tcp(u, r.body);
            case "udp":
                return udp(u, r.body);
            case "dns":
                return dns(u.getHost());
            default:
                return quic(u, r);
        }
    }

    static boolean contained() {
        return "1".equals(System.getProperty("labvirt.netns"));
    }

    /** Where host:port is. In the namespace, as on a phone: the system resolver, which asks
     * the tunnel's DNS (the proxy answers from the lab's zone: a world IP). Outside it, the
     * zone's responder on loopback, asked of the handset (never the machine's resolver). */
    static InetSocketAddress address(String host, int port) throws UnknownHostException {
        if (contained()) {
            return new InetSocketAddress(InetAddress.getByName(host), port);
        }
        String addr = (String) Device.query("resolve", host + ":" + port);
        if (addr == null) {
            throw new UnknownHostException("Unable to resolve host \"" + host + "\": No address associated with hostname");
        }
        int colon = addr.lastIndexOf(':');
        return new InetSocketAddress(addr.substring(0, colon), Integer.parseInt(addr.substring(colon + 1)));
    }

    private static int tcp(URI u, byte[] body) throws IOException {
        try (Socket sock = new Socket()) {
            sock.connect(address(u.getHost(), u.getPort()), TIMEOUT_MS);
            sock.setSoTimeout(TIMEOUT_MS);
            OutputStream out = sock.getOutputStream();
            out.write(body == null ? new byte[0] : body);
            out.flush();
            sock.shutdownOutput();
            return drain(sock.getInputStream());
        }
    }

    private static int drain(InputStream in) throws IOException {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        byte[] buf = new byte[4096];
        try {
            int n;
            while ((n = in.read(buf)) > 0 && got.size() < 65536) got.write(buf, 0, n);
        } catch (SocketTimeoutException e) {
            // the server keeps the channel open: what came so far is the answer
        }
        return got.size();
    }

    private static int udp(URI u, byte[] body) throws IOException {
        byte[] data = body == null ? new byte[0] : body;
        try (DatagramSocket sock = new DatagramSocket()) {
            sock.connect(address(u.getHost(), u.getPort()));  // connect(2): the Frida connect hook sees it
            sock.send(new DatagramPacket(data, data.length));
        }
        return data.length;
    }

    private static int dns(String host) throws IOException {
        if (!contained()) {
            address(host, 443);  // the virtual zone only: never the machine's resolver
            return 1;
        }
        return InetAddress.getAllByName(host).length;
    }

    /** Outside the namespace the zone has no QUIC responder: the port unreachable that a
     * connected UDP socket reports ends the upload at once (a QUIC client would retry). */
    private static void refusedFast(InetSocketAddress to) throws IOException {
        try (DatagramSocket probe = new DatagramSocket()) {
            probe.connect(to);
            probe.setSoTimeout(300);
            probe.send(new DatagramPacket(new byte[1], 1));
            probe.receive(new DatagramPacket(new byte[64], 64));
        } catch (java.net.PortUnreachableException e) {
            throw new IOException("HTTP/3 upload failed: " + to + " refused (port unreachable)");
        } catch (SocketTimeoutException e) {
            // something may listen there: let the QUIC client try
        }
    }

    private static int quic(URI u, Request r) throws IOException {
        int port = u.getPort() < 0 ? 443 : u.getPort();
        InetSocketAddress to = address(u.getHost(), port);
        if (!contained()) refusedFast(to);
        String python = System.getProperty("labvirt.python");
        if (python == null) throw new IOException("no QUIC client (labvirt.python unset)");
        List<String> argv = new ArrayList<>(List.of(python, "-m", "harness.virtual.quic_send",
                "--connect", to.getAddress().getHostAddress() + ":" + to.getPort(), "--url",
                "https://" + u.getHost() + (u.getPort() < 0 ? "" : ":" + u.getPort()) + u.getRawPath()));
        String ua = r.headers.get("User-Agent");
        if (ua != null) argv.addAll(List.of("--user-agent", ua));
        ProcessBuilder pb = new ProcessBuilder(argv).redirectError(ProcessBuilder.Redirect.DISCARD);
        String path = System.getProperty("labvirt.pythonpath");
        if (path != null) pb.environment().put("PYTHONPATH", path);
        Process p = pb.start();
        try (OutputStream in = p.getOutputStream()) {
            in.write(r.body == null ? new byte[0] : r.body);
        }
        byte[] out = p.getInputStream().readAllBytes();
        try {
            if (!p.waitFor(15, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("QUIC client timed out");
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
        String text = new String(out, java.nio.charset.StandardCharsets.UTF_8).trim();
        if (p.exitValue() != 0) throw new IOException("HTTP/3 upload failed: " + text);
        return Integer.parseInt(text.isEmpty() ? "0" : text.split("\\s+")[0]);
    }
}
