package android.location;

import android.content.Context;
import com.labvirt.runtime.Device;
import java.util.Map;

/** android.location.LocationManager: the last known fix from the handset state. */
public class LocationManager {
    public static final String GPS_PROVIDER = "gps";
    public static final String NETWORK_PROVIDER = "network";

    private final Context context;

    public LocationManager(Context context) {
        this.context = context;
    }

    @SuppressWarnings("unchecked")
    public Location getLastKnownLocation(String provider) {
        Map<String, Object> m = (Map<String, Object>) Device.query("location", null);
        if (m == null) return null;
        return new Location(provider, ((Number) m.get("lat")).doubleValue(), ((Number) m.get("lon")).doubleValue());
    }
}
