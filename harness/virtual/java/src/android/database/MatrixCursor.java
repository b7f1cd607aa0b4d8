package android.database;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** android.database.MatrixCursor: rows held in memory. */
public class MatrixCursor implements Cursor {
    private final String[] columns;
    private final List<String[]> rows = new ArrayList<>();
    private int position = -1;
    private boolean closed;

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
    public int getPosition() {
        return position;
    }

    @Override
    public boolean move(int offset) {
        return moveToPosition(position + offset);
    }

    @Override
    public boolean moveToPosition(int target) {
        if (target >= rows.size()) {
            position = rows.size();
            return false;
        }
        if (target < 0) {
            position = -1;
            return false;
        }
        position = target;
        return true;
    }

    @Override
    public boolean moveToFirst() {
        return moveToPosition(0);
    }

    @Override
    public boolean moveToLast() {
        return moveToPosition(rows.size() - 1);
    }

    @Override
    public boolean moveToNext() {
        return moveToPosition(position + 1);
    }

    @Override
    public boolean moveToPrevious() {
        return moveToPosition(position - 1);
    }

    @Override
    public boolean isAfterLast() {
        return rows.isEmpty() || position >= rows.size();
    }

    @Override
    public int getColumnIndex(String columnName) {
        return Arrays.asList(columns).indexOf(columnName);
    }

    @Override
    public int getColumnIndexOrThrow(String columnName) {
        int i = getColumnIndex(columnName);
        if (i < 0) throw new IllegalArgumentException("column '" + columnName + "' does not exist");
        return i;
    }

    @Override
    public String getColumnName(int columnIndex) {
        return columns[columnIndex];
    }

    @Override
    public String[] getColumnNames() {
        return columns.clone();
    }

    @Override
    public int getColumnCount() {
        return columns.length;
    }

    private String cell(int columnIndex) {
        if (position < 0 || position >= rows.size()) {
            throw new CursorIndexOutOfBoundsException(position, rows.size());
        }
        return rows.get(position)[columnIndex];
    }

    @Override
    public String getString(int columnIndex) {
        return cell(columnIndex);
    }

    @Override
    public int getInt(int columnIndex) {
        String v = cell(columnIndex);
        return v == null ? 0 : Integer.parseInt(v);
    }

    @Override
    public long getLong(int columnIndex) {
        String v = cell(columnIndex);
        return v == null ? 0L : Long.parseLong(v);
    }

    @Override
    public boolean isNull(int columnIndex) {
        return cell(columnIndex) == null;
    }

    @Override
    public boolean isClosed() {
        return closed;
    }

    @Override
    public void close() {
        closed = true;
    }
}
