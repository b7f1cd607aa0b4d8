package android.content;

import com.labvirt.runtime.Device;

/** android.content.ClipboardManager: the handset's current clipboard text. */
public class ClipboardManager {
    private final Context context;

    public ClipboardManager(Context context) {
        this.context = context;
    }

    public boolean hasPrimaryClip() {
        return getPrimaryClip() != null;
    }

    public ClipData getPrimaryClip() {
        Object v = Device.query("clipboard", null);
        if (v == null) return null;
        return new ClipData(new ClipData.Item(v.toString()));
    }
}
