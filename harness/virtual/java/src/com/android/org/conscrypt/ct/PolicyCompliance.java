package com.android.org.conscrypt.ct;

/** The outcome of the CT policy for one chain (AOSP external/conscrypt ct/PolicyCompliance). */
public enum PolicyCompliance {
    COMPLY,
    NOT_ENOUGH_SCTS,
    NOT_ENOUGH_DIVERSE_SCTS,
    NO_RFC6962_LOG
}
