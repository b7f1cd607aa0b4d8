package android.net.wifi;

import android.content.Context;
import com.labvirt.runtime.Device;

/** android.net.wifi.WifiManager: the current connection. */
public class WifiManager {
    private final Context context;

    public WifiManager(Context context) {
        this.context = context;
    }

    public WifiInfo getConnectionInfo() {
        return new WifiInfo(Device.id("wifi_mac"), Device.id("bssid"), "\"" + Device.id("ssid") + "\"");
    }
}
