package android.provider;

import android.content.ContentResolver;
import com.labvirt.runtime.Device;

/** android.provider.Settings with its Secure and Global tables. */
public final class Settings {
    private Settings() {}

    public static final class Secure {
        public static final String ANDROID_ID = "android_id";

        private Secure() {}

        public static String getString(ContentResolver resolver, String name) {
            if (ANDROID_ID.equals(name)) return Device.id("android_id");
            Object v = Device.query("setting", "secure/" + name);
            return v == null ? null : v.toString();
        }
    }

    public static final class Global {
        public static final String HTTP_PROXY = "http_proxy";

        private Global() {}

        public static String getString(ContentResolver resolver, String name) {
            Object v = Device.query("setting", "global/" + name);
            return v == null ? null : v.toString();
        }
    }
}
