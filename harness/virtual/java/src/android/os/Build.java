package android.os;

import com.labvirt.runtime.Device;

/** android.os.Build: properties of the handset. */
public final class Build {
    public static final String MODEL = Device.envString("model", "unknown");
    public static final String MANUFACTURER = Device.envString("manufacturer", "unknown");
    public static final String FINGERPRINT = Device.envString("fingerprint", "unknown");
    public static final String ID = Device.envString("build_id", "unknown");

    private Build() {}

    public static String getSerial() {
        return Device.id("serial");
    }

    public static final class VERSION {
        public static final int SDK_INT = Integer.parseInt(Device.envString("sdk", "33"));
        public static final String RELEASE = Device.envString("release", "13");

        private VERSION() {}
    }
}
