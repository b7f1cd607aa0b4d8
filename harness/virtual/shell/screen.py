"""The screen, the keyguard and the user's lock, as a phone shows them to adb.

Formats: `dumpsys window policy` (PhoneWindowManager: mScreenOnFully, mShowingDream /
mDreamingLockscreen, the KeyguardServiceDelegate block with its KeyguardStateMonitor, as
quoted in appium-adb's lock tests) and `dumpsys power` (mWakefulness, Display Power).
Keys (PhoneWindowManager): POWER toggles the screen, SLEEP turns it off, WAKEUP on; with
a lock set the keyguard shows as the screen goes off; MENU and `wm dismiss-keyguard`
dismiss an insecure keyguard only. `locksettings` (AOSP LockSettingsShellCommand)
sets what the user's lock is: set-disabled true|false, set-pin, clear, get-disabled.
"""

from __future__ import annotations

from harness.virtual.shell.command_io import IO, Usage
from harness.virtual.shell.interp import Shell, command

KEYCODES = {"3": "HOME", "26": "POWER", "82": "MENU", "223": "SLEEP", "224": "WAKEUP"}

LOCKSETTINGS_HELP = """locksettings service commands:

  NOTE: when lock screen is set, all commands require the --old <CREDENTIAL> argument.

  help
    Prints this help text.

  get-disabled [--old <CREDENTIAL>] [--user USER_ID]
    Checks whether lock screen is disabled.

  set-disabled [--old <CREDENTIAL>] [--user USER_ID] <true|false>
    When true, disables lock screen.

  set-pin [--old <CREDENTIAL>] [--user USER_ID] <PIN>
    Sets the lock screen as PIN, using the given PIN to unlock.

  clear [--old <CREDENTIAL>] [--user USER_ID]
    Clears the lock credentials.
"""


def key_name(arg: str) -> str:
    """`26`, `KEYCODE_POWER` or `POWER` -> "POWER"."""
    return KEYCODES.get(arg, arg.removeprefix("KEYCODE_"))


def press(sh: Shell, arg: str) -> None:
    """What a key does to the screen and keyguard (`input keyevent`)."""
    screen = sh.state.conditions
    name = key_name(arg)
    if name == "POWER":
        screen.power_key()
    elif name == "SLEEP":
        screen.sleep()
    elif name == "WAKEUP":
        screen.wake()
    elif name == "MENU":
        screen.dismiss_keyguard()


def focus_window(sh: Shell) -> str | None:
    """The keyguard's window while it shows (NotificationShade from Android 11, else
    StatusBar); None when the focused app is on top."""
    if not sh.state.conditions.keyguard:
        return None
    return "Window{9c1f3a2 u0 NotificationShade}" if sh.state.sdk >= 30 else "Window{85a52f2 u0 StatusBar}"


def window_policy(sh: Shell) -> str:
    c = sh.state.conditions
    on, kg = c.screen_on, c.keyguard

    def b(value: bool) -> str:
        return "true" if value else "false"

    return (
        "WINDOW MANAGER POLICY STATE (dumpsys window policy)\n"
        "    mSafeMode=false mSystemReady=true mSystemBooted=true\n"
        "    mCameraLensCoverState=LENS_COVER_ABSENT\n"
        f"    mScreenOnEarly={b(on)} mScreenOnFully={b(on)}\n"
        "    mKeyguardDrawComplete=true mWindowManagerDrawComplete=true\n"
        f"    mShowingDream=false mDreamingLockscreen={b(kg)}\n"
        "    KeyguardServiceDelegate\n"
        f"      showing={b(kg)}\n"
        f"      showingAndNotOccluded={b(kg)}\n"
        f"      inputRestricted={b(kg)}\n"
        "      occluded=false\n"
        f"      secure={b(c.lock == 'pin')}\n"
        "      dreaming=false\n"
        "      systemIsReady=true\n"
        f"      deviceHasKeyguard={b(c.lock != 'none')}\n"
        f"      enabled={b(c.lock != 'none')}\n"
        "      offReason=OFF_BECAUSE_OF_USER\n"
        "      currentUser=0\n"
        "      bootCompleted=true\n"
        f"      screenState=SCREEN_STATE_{'ON' if on else 'OFF'}\n"
        f"      interactiveState=INTERACTIVE_STATE_{'AWAKE' if on else 'SLEEP'}\n"
        "      KeyguardStateMonitor\n"
        f"        mIsShowing={b(kg)}\n"
        "        mSimSecure=false\n"
        f"        mInputRestricted={b(kg)}\n"
        "        mTrusted=false\n"
        "        mCurrentUserId=0\n"
    )


def power_state(sh: Shell) -> str:
    on = sh.state.conditions.screen_on
    return (
        "POWER MANAGER (dumpsys power)\n\nPower Manager State:\n  mDirty=0x0\n"
        f"  mWakefulness={'Awake' if on else 'Asleep'}\n  mWakefulnessChanging=false\n"
        "  mIsPowered=true\n  mPlugType=2\n  mStayOn=false\n"
        f"  mHoldingDisplaySuspendBlocker={'true' if on else 'false'}\n\n"
        f"Display Power: state={'ON' if on else 'OFF'}\n"
    )


@command("locksettings")
def locksettings(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    old = None
    if "--old" in args:
        k = args.index("--old")
        old = args[k + 1] if k + 1 < len(args) else ""
        del args[k:k + 2]
    if "--user" in args:
        k = args.index("--user")
        del args[k:k + 2]
    if not args or args[0] == "help":
        io.write(LOCKSETTINGS_HELP)
        return 0
    c = sh.state.conditions
    verb = args[0]
    if c.pin is not None and verb != "help" and old != c.pin:
        io.write(f"Old password '{old or ''}' didn't match\n")
        return 255
    if verb == "get-disabled":
        io.write(f"{'true' if c.lock == 'none' else 'false'}\n")
    elif verb == "set-disabled" and len(args) == 2 and args[1] in ("true", "false"):
        if c.pin is None:
            c.lock = "none" if args[1] == "true" else "swipe"
        io.write(f"Lock screen disabled set to {args[1]}\n")
    elif verb == "set-pin" and len(args) == 2 and args[1].isdigit():
        c.lock, c.pin = "pin", args[1]
        io.write(f"Pin set to '{args[1]}'\n")
    elif verb == "clear":
        c.lock, c.pin = "swipe", None
        io.write("Lock credential cleared\n")
    else:
        raise Usage(LOCKSETTINGS_HELP, 255)
    return 0
