package android.database;

/** android.database.Cursor: the subset apps use to walk query results. */
public interface Cursor extends java.io.Closeable {
    int getCount();

    boolean moveToNext();

    boolean moveToFirst();

    int getColumnIndex(String columnName);

    String[] getColumnNames();

    String getString(int columnIndex);

    @Override
    void close();
}
