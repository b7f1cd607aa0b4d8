package android.util;

import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;

/** android.util.Log: lines in logcat's threadtime format on the app's stdout. */
public final class Log {
    private static final DateTimeFormatter TS = DateTimeFormatter.ofPattern("MM-dd HH:mm:ss.SSS");

    private Log() {}

    private static int println(char level, String tag, String msg) {
        long pid = ProcessHandle.current().pid();
        long tid = Thread.currentThread().getId();
        String line = String.format("%s %5d %5d %c %s: %s%n", LocalDateTime.now().format(TS), pid, tid, level, tag, msg);
        byte[] bytes = line.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        synchronized (System.out) {  // one write per line: several apps share the log file
            System.out.write(bytes, 0, bytes.length);
            System.out.flush();
        }
        try {
            com.labvirt.runtime.Device.query("log", level + "\t" + tag + "\t" + msg);
        } catch (IllegalStateException e) {
            // logcat is best effort
        }
        return 0;
    }

    public static int d(String tag, String msg) { return println('D', tag, msg); }

    public static int i(String tag, String msg) { return println('I', tag, msg); }

    public static int w(String tag, String msg) { return println('W', tag, msg); }

    public static int e(String tag, String msg) { return println('E', tag, msg); }
}
