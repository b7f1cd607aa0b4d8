package com.labvirt.runtime;

import com.labvirt.net.Request;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;

/** Builds the request of one `send` behaviour: fields read, encoded, framed, maybe gzipped. */
public final class Payload {
    private Payload() {}

    @SuppressWarnings("unchecked")
    public static Map<String, String> collect(Reader reader, List<Object> fields) throws Exception {
        Map<String, String> out = new LinkedHashMap<>();
        for (Object o : fields) {
            Map<String, Object> f = (Map<String, Object>) o;
            String value;
            if (f.get("read") != null) value = reader.read((String) f.get("read"));
            else value = f.get("value") == null ? "" : f.get("value").toString();
            if (value == null) value = "";
            out.put((String) f.get("name"), encode(value, (String) f.getOrDefault("encoding", "plain")));
        }
        return out;
    }

    public static String encode(String value, String encoding) throws Exception {
        byte[] b = value.getBytes(StandardCharsets.UTF_8);
        for (String step : encoding.split("\\+")) {
            switch (step) {
                case "plain": break;
                case "base64": b = Base64.getEncoder().encode(b); break;
                case "hex": b = hex(b).getBytes(StandardCharsets.US_ASCII); break;
                case "md5": b = digest("MD5", b); break;
                case "sha1": b = digest("SHA-1", b); break;
                case "sha256": b = digest("SHA-256", b); break;
                case "gzip": b = gzip(b); break;
                case "url": b = URLEncoder.encode(new String(b, StandardCharsets.UTF_8),
                        StandardCharsets.UTF_8).getBytes(StandardCharsets.US_ASCII); break;
                default: throw new IllegalArgumentException("unknown encoding " + step);
            }
        }
        return new String(b, StandardCharsets.ISO_8859_1);
    }

    private static byte[] digest(String alg, byte[] b) throws Exception {
        return hex(MessageDigest.getInstance(alg).digest(b)).getBytes(StandardCharsets.US_ASCII);
    }

    private static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) s.append(String.format("%02x", x & 0xff));
        return s.toString();
    }

    public static byte[] gzip(byte[] b) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(b);
        }
        return out.toByteArray();
    }

    /** Frames the fields as the send's body format says and fills the request. */
    public static void frame(Request r, String format, Map<String, String> fields, boolean gzip)
            throws IOException {
        byte[] body = null;
        switch (format) {
            case "json":
                body = Json.write(new LinkedHashMap<String, Object>(fields)).getBytes(StandardCharsets.UTF_8);
                r.headers.put("Content-Type", "application/json; charset=utf-8");
                break;
            case "form":
                body = formEncode(fields).getBytes(StandardCharsets.US_ASCII);
                r.headers.put("Content-Type", "application/x-www-form-urlencoded");
                break;
            case "protobuf":
                body = protobuf(fields);
                r.headers.put("Content-Type", "application/x-protobuf");
                break;
            case "query":
                if (!fields.isEmpty()) r.url += (r.url.contains("?") ? "&" : "?") + formEncode(fields);
                break;
            default:
                throw new IllegalArgumentException("unknown body format " + format);
        }
        if (body != null && gzip) {
            body = gzip(body);
            r.headers.put("Content-Encoding", "gzip");
        }
        r.body = body;
    }

    private static String formEncode(Map<String, String> fields) {
        StringBuilder b = new StringBuilder();
        for (Map.Entry<String, String> e : fields.entrySet()) {
            if (b.length() > 0) b.append('&');
            b.append(URLEncoder.encode(e.getKey(), StandardCharsets.UTF_8)).append('=')
                    .append(URLEncoder.encode(e.getValue(), StandardCharsets.ISO_8859_1));
        }
        return b.toString();
    }

    /** Field k (1-based, in order) as a length-delimited protobuf field. */
    private static byte[] protobuf(Map<String, String> fields) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int k = 1;
        for (String v : fields.values()) {
            byte[] b = v.getBytes(StandardCharsets.ISO_8859_1);
            varint(out, (k++ << 3) | 2);
            varint(out, b.length);
            out.write(b, 0, b.length);
        }
        return out.toByteArray();
    }

    private static void varint(ByteArrayOutputStream out, long v) {
        while ((v & ~0x7FL) != 0) {
            out.write((int) ((v & 0x7F) | 0x80));
            v >>>= 7;
        }
        out.write((int) v);
    }
}
