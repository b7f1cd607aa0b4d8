package android.content;

import android.accounts.AccountManager;
import android.content.pm.PackageManager;
import android.location.LocationManager;
import android.net.wifi.WifiManager;
import android.telephony.TelephonyManager;

/** The app's context: system services by their Android names. */
public class Context {
    public static final String TELEPHONY_SERVICE = "phone";
    public static final String LOCATION_SERVICE = "location";
    public static final String WIFI_SERVICE = "wifi";
    public static final String CLIPBOARD_SERVICE = "clipboard";
    public static final String ACCOUNT_SERVICE = "account";

    private final String packageName;

    public Context(String packageName) {
        this.packageName = packageName;
    }

    public String getPackageName() {
        return packageName;
    }

    public Object getSystemService(String name) {
        switch (name) {
            case TELEPHONY_SERVICE: return new TelephonyManager(this);
            case LOCATION_SERVICE: return new LocationManager(this);
            case WIFI_SERVICE: return new WifiManager(this);
            case CLIPBOARD_SERVICE: return new ClipboardManager(this);
            case ACCOUNT_SERVICE: return AccountManager.get(this);
            default: return null;
        }
    }

    public ContentResolver getContentResolver() {
        return new ContentResolver(this);
    }

    public PackageManager getPackageManager() {
        return new PackageManager(this);
    }
}
