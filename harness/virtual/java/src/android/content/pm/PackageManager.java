package android.content.pm;

import android.content.Context;
import com.labvirt.runtime.Device;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** android.content.pm.PackageManager: installed packages. */
public class PackageManager {
    private final Context context;

    public PackageManager(Context context) {
        this.context = context;
    }

    @SuppressWarnings("unchecked")
    public List<PackageInfo> getInstalledPackages(int flags) {
        List<PackageInfo> out = new ArrayList<>();
        List<Object> rows = Device.list("packages");
        if (rows == null) return out;
        for (Object r : rows) {
            Map<String, Object> m = (Map<String, Object>) r;
            PackageInfo p = new PackageInfo();
            p.packageName = String.valueOf(m.get("name"));
            Object v = m.get("version");
            p.versionName = v == null ? null : v.toString();
            out.add(p);
        }
        return out;
    }
}
