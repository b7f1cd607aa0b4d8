package android.content;

/** android.content.ClipData with one text item. */
public class ClipData {
    private final Item item;

    public ClipData(Item item) {
        this.item = item;
    }

    public int getItemCount() {
        return item == null ? 0 : 1;
    }

    public Item getItemAt(int index) {
        return item;
    }

    public static class Item {
        private final CharSequence text;

        public Item(CharSequence text) {
            this.text = text;
        }

        public CharSequence getText() {
            return text;
        }
    }
}
