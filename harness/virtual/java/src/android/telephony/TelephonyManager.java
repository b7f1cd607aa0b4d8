package android.telephony;

import android.content.Context;
import com.labvirt.runtime.Device;

/** android.telephony.TelephonyManager: device and SIM identifiers. */
public class TelephonyManager {
    private final Context context;

    public TelephonyManager(Context context) {
        this.context = context;
    }

    public String getImei() {
        return Device.id("imei");
    }

    public String getImei(int slotIndex) {
        return Device.id("imei");
    }

    public String getDeviceId() {
        return Device.id("imei");
    }

    public String getSubscriberId() {
        return Device.id("imsi");
    }

    public String getLine1Number() {
        return Device.id("phone");
    }

    public String getSimSerialNumber() {
        return Device.id("iccid");
    }

    public String getNetworkOperatorName() {
        return Device.envString("operator", "");
    }
}
