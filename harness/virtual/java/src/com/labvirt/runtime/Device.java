package com.labvirt.runtime;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The handset side of the stubs: every stub asks the handset's state at call time over a
 * Unix socket (one JSON line per request), so values planted after launch are seen.
 */
public final class Device {
    private static SocketChannel channel;
    private static BufferedReader in;
    private static OutputStream out;
    private static Map<String, Object> env;

    private Device() {}

    public static String pkg() {
        return System.getProperty("labvirt.pkg", "unknown");
    }

    public static synchronized Object query(String q, String arg) {
        Map<String, Object> req = new LinkedHashMap<>();
        req.put("q", q);
        req.put("pkg", pkg());
        if (arg != null) req.put("arg", arg);
        String line = Json.write(req) + "\n";
        for (int attempt = 0; attempt < 2; attempt++) {
            try {
                if (channel == null) connect();
                out.write(line.getBytes(StandardCharsets.UTF_8));
                out.flush();
                String resp = in.readLine();
                if (resp == null) throw new IOException("control channel closed");
                @SuppressWarnings("unchecked")
                Map<String, Object> m = (Map<String, Object>) Json.parse(resp);
                if (m.containsKey("error")) throw new IllegalStateException(String.valueOf(m.get("error")));
                return m.get("value");
            } catch (IOException e) {
                close();
                if (attempt == 1) throw new IllegalStateException("handset unreachable: " + e.getMessage(), e);
            }
        }
        return null;
    }

    private static void connect() throws IOException {
        String path = System.getProperty("labvirt.ctl");
        if (path == null) throw new IOException("labvirt.ctl not set");
        channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        channel.connect(UnixDomainSocketAddress.of(path));
        in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.UTF_8));
        out = Channels.newOutputStream(channel);
    }

    private static void close() {
        try {
            if (channel != null) channel.close();
        } catch (IOException e) {
            // already closed
        }
        channel = null;
    }

    /**
     * Ends this process when the handset goes away: a second connection on which the
     * handset writes only system events (one JSON line each, like {"event":"sim_inserted"},
     * handed to onEvent); end of stream means the handset process has ended.
     */
    public static void watchHandset(Consumer<String> onEvent) {
        String path = System.getProperty("labvirt.ctl");
        Thread t = new Thread(() -> {
            try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                ch.connect(UnixDomainSocketAddress.of(path));
                Map<String, Object> req = new LinkedHashMap<>();
                req.put("q", "watch");
                req.put("pkg", pkg());
                Channels.newOutputStream(ch).write((Json.write(req) + "\n").getBytes(StandardCharsets.UTF_8));
                BufferedReader events = new BufferedReader(
                        new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8));
                String line;
                while ((line = events.readLine()) != null) {
                    Object event = eventOf(line);
                    if (event != null) onEvent.accept(event.toString());
                }
            } catch (IOException e) {
                // fall through: the handset is gone
            }
            Runtime.getRuntime().halt(0);
        }, "HandsetWatch");
        t.setDaemon(true);
        t.start();
    }

    private static Object eventOf(String line) {
        try {
            Object parsed = Json.parse(line);
            return parsed instanceof Map ? ((Map<?, ?>) parsed).get("event") : null;
        } catch (RuntimeException e) {
            return null;
        }
    }

    public static String id(String name) {
        Object v = query("id", name);
        return v == null ? null : v.toString();
    }

    @SuppressWarnings("unchecked")
    public static List<Object> list(String what) {
        return (List<Object>) query(what, null);
    }

    @SuppressWarnings("unchecked")
    public static synchronized Map<String, Object> env() {
        if (env == null) env = (Map<String, Object>) query("env", null);
        return env;
    }

    public static String envString(String key, String dflt) {
        Object v = env().get(key);
        return v == null ? dflt : v.toString();
    }
}
