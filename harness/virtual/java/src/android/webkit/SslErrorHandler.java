package android.webkit;

/** android.webkit.SslErrorHandler: the app's answer to a certificate error (proceed or cancel). */
public class SslErrorHandler {
    private Boolean decision;

    public void proceed() {
        decision = Boolean.TRUE;
    }

    public void cancel() {
        decision = Boolean.FALSE;
    }

    /** Not Android API: what the app answered (the load waits for it in Chromium). */
    public boolean proceeded() {
        return Boolean.TRUE.equals(decision);
    }
}
