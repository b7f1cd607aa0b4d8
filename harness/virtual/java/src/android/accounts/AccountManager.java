package android.accounts;

import android.content.Context;
import com.labvirt.runtime.Device;
import java.util.List;
import java.util.Map;

/** android.accounts.AccountManager: accounts on the handset. */
public class AccountManager {
    private final Context context;

    private AccountManager(Context context) {
        this.context = context;
    }

    public static AccountManager get(Context context) {
        return new AccountManager(context);
    }

    @SuppressWarnings("unchecked")
    public Account[] getAccounts() {
        List<Object> rows = Device.list("accounts");
        if (rows == null) return new Account[0];
        Account[] out = new Account[rows.size()];
        for (int k = 0; k < out.length; k++) {
            Map<String, Object> r = (Map<String, Object>) rows.get(k);
            out[k] = new Account(String.valueOf(r.get("name")), String.valueOf(r.get("type")));
        }
        return out;
    }
}
