"""The doctor's readings of real output formats, and what a report adds up to."""

from __future__ import annotations

import pytest

from harness.devices.ca_probe import parse_processes
from harness.devices.doctor import Check, Report, Status, check_adb, parse_df, parse_screen

# appium-adb's lock tests quote these `dumpsys window` excerpts from devices
KEYGUARD_OFF = """
    KeyguardServiceDelegate
      showing=false
      showingAndNotOccluded=true
      inputRestricted=false
      occluded=false
      secure=false
      dreaming=false
      systemIsReady=true
      deviceHasKeyguard=true
      enabled=true
      offReason=OFF_BECAUSE_OF_USER
      currentUser=-10000
      bootCompleted=true
      screenState=SCREEN_STATE_OFF
      interactiveState=INTERACTIVE_STATE_SLEEP
      KeyguardStateMonitor
        mIsShowing=false
        mSimSecure=false
        mInputRestricted=false
        mTrusted=false
        mCurrentUserId=0
"""
LOCKED = """
      KeyguardServiceDelegate
        KeyguardStateMonitor
          mIsShowing=true
          mSimSecure=false
          mInputRestricted=true
          mCurrentUserId=0
"""
SHOWN_NOT_RESTRICTED = LOCKED.replace("mInputRestricted=true", "mInputRestricted=false")
OLD_POLICY = "mShowingLockscreen=true mShowingDream=false mDreamingLockscreen=false mTopIsFullscreen=false"
AWAKE = "POWER MANAGER (dumpsys power)\n  mWakefulness=Awake\n  mHoldingDisplaySuspendBlocker=true\n"


@pytest.mark.parametrize(("policy", "power", "awake", "locked"), [
    (KEYGUARD_OFF, AWAKE, False, False),
    (KEYGUARD_OFF.replace("SCREEN_STATE_OFF", "SCREEN_STATE_ON"), AWAKE, True, False),
    (LOCKED, AWAKE, True, True),
    (SHOWN_NOT_RESTRICTED, AWAKE, True, False),
    (OLD_POLICY, AWAKE, True, True),
    (OLD_POLICY.replace("mShowingLockscreen=true", "mShowingLockscreen=false"), AWAKE, True, False),
    ("", "  getWakefulnessLocked()=Dozing\n", False, False),
    ("", "Power Manager State:\n  mWakefulness=Asleep\n\nDisplay Power: state=OFF\n", False, False),
    ("mDreamingLockscreen=true", AWAKE, True, True),
])
def test_screen_state_is_read_as_appium_reads_it(policy, power, awake, locked):
    state = parse_screen(policy, power)
    assert (state.awake, state.locked) == (awake, locked)


def test_free_space_from_toybox_df():
    df = ("Filesystem        1K-blocks    Used Available Use% Mounted on\n"
          "/dev/block/dm-34  115249236 9431304 105686860   9% /data\n")
    assert parse_df(df) == 105686860
    assert parse_df("df: /data: Permission denied\n") is None


def test_ps_rows_with_uid():
    rows = parse_processes("  PID  PPID   UID NAME\n  369     1     0 zygote64\n 4137   369 10040 com.android.systemui\n"
                           " 1890   369 10151 org.example.weather_zygote\n")
    assert [(p.pid, p.ppid, p.uid, p.package) for p in rows] == [
        (369, 1, 0, "zygote64"), (4137, 369, 10040, "com.android.systemui"),
        (1890, 369, 10151, "org.example.weather_zygote")]


def test_a_report_exits_0_1_or_3_and_says_its_failures():
    ok, na = Check("a", Status.PASS, "fine"), Check("w", Status.NOT_APPLICABLE, "not built")
    warn = Check("b", Status.WARN, "so so", "do this")
    fail = Check("c", Status.FAIL, "broken", "do that")
    assert Report("s", (ok, na)).exit_code == 0
    assert Report("s", (ok, warn)).exit_code == 1
    report = Report("s", (ok, warn, fail))
    assert report.exit_code == 3 and report.status == Status.FAIL
    assert report.message() == "doctor: c: broken; fix: do that"
    assert report.as_dict()["checks"][2] == {"name": "c", "status": "fail", "summary": "broken", "fix": "do that",
                                             "details": {}}


@pytest.mark.parametrize(("state", "found", "fix"), [
    ("unauthorized", "did not accept this computer's adb key", "Allow USB debugging?"),
    ("offline", "the handset is offline", "adb reconnect"),
    (None, "the adb server does not list R58M", "adb devices"),
])
def test_adb_states(state, found, fix):
    check = check_adb("R58M", state)
    assert check.status == Status.FAIL and found in check.summary and fix in check.fix
    assert check_adb("R58M", "device").status == Status.PASS
