package android.database;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** android.database.MatrixCursor: rows held in memory. */
public class MatrixCursor implements Cursor {
    private final String[] columns;
    private final List<String[]> rows = new ArrayList<>();
    private int position = -1;

    public MatrixCursor(String[] columnNames) {
        this.columns = columnNames;
    }

    public void addRow(Object[] values) {
        String[] row = new String[columns.length];
        for (int k = 0; k < columns.length && k < values.length; k++) {
            row[k] = values[k] == null ? null : values[k].toString();
        }
        rows.add(row);
    }

    @Override
    public int getCount() {
        return rows.size();
    }

    @Override
    public boolean moveToNext() {
        if (position + 1 >= rows.size()) return false;
        position++;
        return true;
    }

    @Override
    public boolean moveToFirst() {
        position = 0;
        return !rows.isEmpty();
    }

    @Override
    public int getColumnIndex(String columnName) {
        return Arrays.asList(columns).indexOf(columnName);
    }

    @Override
    public String[] getColumnNames() {
        return columns.clone();
    }

    @Override
    public String getString(int columnIndex) {
        return rows.get(position)[columnIndex];
    }

    @Override
    public void close() {
        rows.clear();
    }
}
