package com.labvirt.app;

import com.android.okhttp.internal.tls.OkHostnameVerifier;
import java.security.cert.Certificate;
import java.util.List;
import javax.net.ssl.HostnameVerifier;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import okhttp3.CertificatePinner;

/**
 * An app's own HostnameVerifier that pins as well: the name must match and one certificate
 * of the peer's chain must carry a pinned key (pinning done in verify(), as some apps do).
 */
public final class PinningHostnameVerifier implements HostnameVerifier {
    private final List<String> pins;

    public PinningHostnameVerifier(List<String> pins) {
        this.pins = pins;
    }

    @Override
    public boolean verify(String hostname, SSLSession session) {
        if (!OkHostnameVerifier.INSTANCE.verify(hostname, session)) return false;
        if (pins.isEmpty()) return true;
        try {
            for (Certificate c : session.getPeerCertificates()) {
                if (pins.contains(CertificatePinner.pin(c))) return true;
            }
        } catch (SSLPeerUnverifiedException e) {
            return false;
        }
        return false;
    }
}
