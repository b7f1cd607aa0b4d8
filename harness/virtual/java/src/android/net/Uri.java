package android.net;

/** android.net.Uri: only what content queries need. */
public final class Uri {
    private final String text;

    private Uri(String text) {
        this.text = text;
    }

    public static Uri parse(String text) {
        return new Uri(text);
    }

    public String getAuthority() {
        String rest = text.startsWith("content://") ? text.substring(10) : text;
        int slash = rest.indexOf('/');
        return slash < 0 ? rest : rest.substring(0, slash);
    }

    @Override
    public String toString() {
        return text;
    }
}
