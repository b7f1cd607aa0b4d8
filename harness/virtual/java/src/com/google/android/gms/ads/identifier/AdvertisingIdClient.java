package com.google.android.gms.ads.identifier;

import android.content.Context;
import com.labvirt.runtime.Device;

/** Google Play services' advertising ID client. */
public class AdvertisingIdClient {
    private AdvertisingIdClient() {}

    public static Info getAdvertisingIdInfo(Context context) {
        return new Info(Device.id("advertising_id"), false);
    }

    public static final class Info {
        private final String id;
        private final boolean limitAdTracking;

        public Info(String id, boolean limitAdTracking) {
            this.id = id;
            this.limitAdTracking = limitAdTracking;
        }

        public String getId() {
            return id;
        }

        public boolean isLimitAdTrackingEnabled() {
            return limitAdTracking;
        }
    }
}
