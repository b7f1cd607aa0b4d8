package android.content;

import android.database.Cursor;
import android.database.MatrixCursor;
import android.net.Uri;
import com.labvirt.runtime.Device;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** android.content.ContentResolver: contacts, SMS and call log providers from the handset. */
public class ContentResolver {
    private final Context context;

    public ContentResolver(Context context) {
        this.context = context;
    }

    @SuppressWarnings("unchecked")
    public Cursor query(Uri uri, String[] projection, String selection, String[] selectionArgs,
                        String sortOrder) {
        String authority = uri.getAuthority();
        String table;
        if (authority.equals("com.android.contacts") || authority.equals("contacts")) table = "contacts";
        else if (authority.equals("sms") || authority.equals("mms-sms")) table = "sms";
        else if (authority.equals("call_log")) table = "call_log";
        else return null;
        List<Object> rows = Device.list(table);
        List<String> cols = new ArrayList<>();
        if (projection != null) {
            for (String p : projection) cols.add(p);
        } else if (rows != null && !rows.isEmpty()) {
            cols.addAll(((Map<String, Object>) rows.get(0)).keySet());
        }
        MatrixCursor cursor = new MatrixCursor(cols.toArray(new String[0]));
        if (rows == null) return cursor;
        for (Object r : rows) {
            Map<String, Object> row = (Map<String, Object>) r;
            Object[] values = new Object[cols.size()];
            for (int k = 0; k < values.length; k++) values[k] = row.get(cols.get(k));
            cursor.addRow(values);
        }
        return cursor;
    }
}
