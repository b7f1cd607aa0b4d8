package com.android.org.conscrypt.ct;

import java.security.cert.X509Certificate;
import java.util.HashSet;

/** The CT policy: embedded SCTs from at least two distinct known logs. */
public class PolicyImpl {
    public PolicyCompliance doesResultConformToPolicy(VerificationResult result, X509Certificate leaf) {
        if (result.getValidSCTs().size() < 2) return PolicyCompliance.NOT_ENOUGH_SCTS;
        if (new HashSet<>(result.getValidSCTs()).size() < 2) return PolicyCompliance.NOT_ENOUGH_DIVERSE_SCTS;
        return PolicyCompliance.COMPLY;
    }
}
