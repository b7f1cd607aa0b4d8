package android.content.pm;

/** android.content.pm.PackageInfo. */
public class PackageInfo {
    public String packageName;
    public String versionName;
}
