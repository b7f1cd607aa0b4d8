package com.labvirt.runtime;

import android.content.Context;
import android.util.Log;
import java.io.FileOutputStream;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;

/**
 * The process of one virtual app: runs its behaviours on launch, on boot, on system
 * events the handset sends (SIM inserted, location enabled, Settings opened, ...) and on
 * timers at a fixed rate (a heartbeat keeps its period whatever each send takes).
 */
public final class AppMain {
    private AppMain() {}

    public static void main(String[] args) throws Exception {
        String pkg = Device.pkg();
        nameProcess(pkg);
        String reason = System.getProperty("labvirt.reason", "launch");
        Context ctx = new Context(pkg);
        ThreadFactory tf = r -> {
            Thread t = new Thread(r, "pool-1-thread-1");
            t.setDaemon(false);
            return t;
        };
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(tf);
        Map<String, Object> env = Device.env();
        @SuppressWarnings("unchecked")
        List<Object> sends = (List<Object>) env.get("sends");
        Device.watchHandset(event -> timer.execute(() -> runOn(ctx, sends, event)));
        Log.i("ActivityManager", "Start proc " + ProcessHandle.current().pid() + ":" + pkg + " for " + reason);
        runOn(ctx, sends, reason);
        if (sends != null) {
            for (Object o : sends) {
                @SuppressWarnings("unchecked")
                Map<String, Object> send = (Map<String, Object>) o;
                Object every = send.get("every");
                if (every != null && ((Number) every).doubleValue() > 0) {
                    long ms = (long) (((Number) every).doubleValue() * 1000);
                    timer.scheduleAtFixedRate(() -> runSend(ctx, send), ms, ms, TimeUnit.MILLISECONDS);
                }
            }
        }
        Object lock = new Object();
        synchronized (lock) {
            while (true) lock.wait();
        }
    }

    /** /proc/self/comm as Android shows it (the last 15 characters of the package name). */
    private static void nameProcess(String pkg) {
        String comm = pkg.length() > 15 ? pkg.substring(pkg.length() - 15) : pkg;
        try (FileOutputStream out = new FileOutputStream("/proc/self/comm")) {
            out.write(comm.getBytes(StandardCharsets.US_ASCII));
        } catch (IOException e) {
            Log.w("Process", "cannot name process: " + e.getMessage());
        }
    }

    /** Every send whose `on` names this reason or event, in spec order. */
    static void runOn(Context ctx, List<Object> sends, String event) {
        if (sends == null) return;
        for (Object o : sends) {
            @SuppressWarnings("unchecked")
            Map<String, Object> send = (Map<String, Object>) o;
            @SuppressWarnings("unchecked")
            List<Object> on = (List<Object>) send.get("on");
            if (on != null && on.contains(event)) runSend(ctx, send);
        }
    }

    static void runSend(Context ctx, Map<String, Object> send) {
        String sdk = (String) send.get("sdk");
        try {
            Method run = Class.forName(sdk).getMethod("run", Context.class, Map.class);
            run.invoke(null, ctx, send);
        } catch (InvocationTargetException e) {
            Throwable c = e.getCause();
            Log.e(sdk.substring(sdk.lastIndexOf('.') + 1), send.get("url") + " failed: " + c);
        } catch (ReflectiveOperationException | RuntimeException e) {
            Log.e("AppMain", "behaviour " + send.get("id") + " failed: " + e);
        }
    }
}
