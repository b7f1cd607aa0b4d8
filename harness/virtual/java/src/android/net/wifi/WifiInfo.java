package android.net.wifi;

/** android.net.wifi.WifiInfo. */
public class WifiInfo {
    private final String mac;
    private final String bssid;
    private final String ssid;

    public WifiInfo(String mac, String bssid, String ssid) {
        this.mac = mac;
        this.bssid = bssid;
        this.ssid = ssid;
    }

    public String getMacAddress() {
        return mac;
    }

    public String getBSSID() {
        return bssid;
    }

    public String getSSID() {
        return ssid;
    }
}
