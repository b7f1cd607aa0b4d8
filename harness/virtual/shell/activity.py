"""Activity-side commands: am, monkey, input, wm, dumpsys window/display/activity/power/
battery/location. Apps start and stop only through the AppHost."""

from __future__ import annotations

import random
import time

from harness.virtual.shell.command_io import IO, Usage
from harness.virtual.shell.events import fire
from harness.virtual.shell.interp import Shell, command
from harness.virtual.shell.pm import dumpsys_package
from harness.virtual.shell.screen import focus_window, power_state, press, window_policy

CLIPPER = "ca.zgrs.clipper"
SETTINGS = "com.android.settings"  # answers every android.settings.* action; fires settings_opened
# The virtual handset logs each text `input text` typed, exactly, under this tag (pid: the
# focused app's, else system_server's): `logcat -d -v brief` reads it back.
TYPED_TAG = "VirtualInput"
MONKEY_MAX_SECONDS = 600.0


def _intent_echo(action: str | None, cats: list[str], data: str | None, cmp: str | None,
                 extras: bool, flags: str | None = None) -> str:
    parts = []
    if action:
        parts.append(f"act={action}")
    if cats:
        parts.append(f"cat=[{','.join(cats)}]")
    if data:
        parts.append(f"dat={data}")
    if flags:
        parts.append(f"flg={flags}")
    if cmp:
        parts.append(f"cmp={cmp}")
    if extras:
        parts.append("(has extras)")
    return "Intent { " + " ".join(parts) + " }"


def _parse_intent(args: list[str]) -> tuple[dict[str, object], list[str]]:
    out: dict[str, object] = {"action": None, "cats": [], "data": None, "cmp": None, "extras": {},
                              "wait": False}
    rest: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        nxt = args[i + 1] if i + 1 < len(args) else None
        if a == "-W":
            out["wait"] = True
        elif a in ("-S", "-D", "-R", "--activity-clear-task", "--activity-new-task"):
            pass
        elif a == "--user" and nxt is not None:
            i += 1
        elif a == "-a" and nxt is not None:
            out["action"] = nxt
            i += 1
        elif a == "-c" and nxt is not None:
            out["cats"].append(nxt)  # type: ignore[union-attr]
            i += 1
        elif a == "-d" and nxt is not None:
            out["data"] = nxt
            i += 1
        elif a == "-n" and nxt is not None:
            out["cmp"] = nxt
            i += 1
        elif a in ("-f", "-p") and nxt is not None:
            i += 1
        elif a in ("-e", "--es", "--ei", "--ez", "--el", "--ef", "--eu") and nxt is not None and i + 2 < len(args):
            out["extras"][nxt] = args[i + 2]  # type: ignore[index]
            i += 2
        else:
            rest.append(a)
        i += 1
    return out, rest


def _start(sh: Shell, pkg_name: str, activity: str | None, io: IO, intent: dict[str, object],
           echo: str) -> int:
    state = sh.state
    package = state.packages.get(pkg_name)
    full = package.full_activity(activity) if package and activity else f"{pkg_name}.{activity}"
    if package is None or not package.enabled or (activity and not package.has_activity(activity)):
        io.write(f"Starting: {echo}\n")
        io.error("Error type 3\n")
        io.error(f"Error: Activity class {{{pkg_name}/{full if activity else '?'}}} does not exist.\n")
        return 1 if state.sdk >= 30 else 0
    activity = activity or package.launcher_activity() or ".MainActivity"
    was_running = sh.host.apps.pid_of(pkg_name)
    started = time.monotonic()
    try:
        sh.host.apps.start(pkg_name, package.full_activity(activity), "launch")
    except (LookupError, OSError, RuntimeError, ValueError) as e:
        io.write(f"Starting: {echo}\n")
        io.error(f"Error: Activity not started, unable to start process {pkg_name}: {e}\n")
        return 1
    state.foreground = (pkg_name, package.full_activity(activity))
    if pkg_name == SETTINGS:
        fire(sh, "settings_opened")
    state.logcat("I", 558, "ActivityTaskManager", f"START u0 {{cmp={pkg_name}/{package.short_activity(activity)}}} from uid 2000")
    io.write(f"Starting: {echo}\n")
    if was_running and not intent.get("wait"):
        io.write("Warning: Activity not started, its current task has been brought to the front\n")
    if intent.get("wait"):
        ms = max(1, int((time.monotonic() - started) * 1000))
        io.write(f"Status: ok\nLaunchState: {'HOT' if was_running else 'COLD'}\n"
                 f"Activity: {pkg_name}/{package.short_activity(activity)}\nTotalTime: {ms}\nWaitTime: {ms + 3}\nComplete\n")
    return 0


@command("am")
def am(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    if not args:
        raise Usage("Activity manager (activity) commands:\n  help\n  start [-W] [-n <COMPONENT>] ...\n"
                    "  force-stop <PACKAGE>\n  broadcast [-a <ACTION>] ...", 0)
    verb, rest = args[0], args[1:]
    if verb in ("start", "start-activity"):
        intent, extra = _parse_intent(rest)
        cmp = intent["cmp"]
        if cmp is None and extra and "/" in extra[-1]:
            cmp = extra[-1]
        pkg, act = (None, None)
        if isinstance(cmp, str):
            pkg, _, act = cmp.partition("/")
        elif isinstance(intent["action"], str) and intent["action"].startswith("android.settings."):
            pkg, act = SETTINGS, None
        elif intent["data"]:
            pkg, act = "com.android.chrome", None
        elif not intent["action"]:
            raise Usage("Error: Intent does not match any activities: Intent { }", 1)
        echo = _intent_echo(intent["action"], intent["cats"], intent["data"], cmp,  # type: ignore[arg-type]
                            bool(intent["extras"]))
        if pkg is None:
            io.write(f"Starting: {echo}\n")
            io.error(f"Error: Activity not started, unable to resolve {echo}\n")
            return 1
        return _start(sh, pkg, act or None, io, intent, echo)
    if verb == "force-stop":
        for pkg in [a for a in rest if not a.startswith("-")][:1]:
            sh.host.apps.stop(pkg)
            if sh.state.foreground and sh.state.foreground[0] == pkg:
                sh.state.foreground = None
        return 0
    if verb in ("kill", "kill-all"):
        for pkg in [a for a in rest if not a.startswith("-")]:
            if sh.state.foreground is None or sh.state.foreground[0] != pkg:
                sh.host.apps.stop(pkg)
        return 0
    if verb == "broadcast":
        return _broadcast(sh, rest, io)
    if verb == "get-current-user":
        io.write("0\n")
        return 0
    raise Usage(f"Error: Unknown command: {verb}", 255)


def _broadcast(sh: Shell, args: list[str], io: IO) -> int:
    intent, _ = _parse_intent(args)
    action = intent["action"]
    extras: dict[str, str] = intent["extras"]  # type: ignore[assignment]
    io.write(f"Broadcasting: {_intent_echo(action, intent['cats'], intent['data'], None, bool(extras), '0x400000')}\n")  # type: ignore[arg-type]
    if action in ("clipper.set", "clipper.get") and CLIPPER in sh.state.packages:
        if action == "clipper.set":
            sh.state.clipboard = extras.get("text", "")
            io.write('Broadcast completed: result=-1, data="Text is copied into clipboard."\n')
        else:
            io.write(f'Broadcast completed: result=-1, data="{sh.state.clipboard or ""}"\n')
        return 0
    if action == "android.intent.action.AIRPLANE_MODE":  # the broadcast is the news: fire it
        on = extras.get("state") == "true"
        sh.state.settings["global"]["airplane_mode_on"] = "1" if on else "0"
        fire(sh, "airplane_mode_on" if on else "airplane_mode_off")
    wireguard = getattr(sh.host.apps, "wireguard", None)  # the WireGuard app's TunnelManager receiver
    if wireguard is not None and wireguard.handles(action, intent["cmp"]):
        wireguard.receive(action, intent["cmp"], extras, sh.uid)
    io.write("Broadcast completed: result=0\n")
    return 0


@command("monkey")
def monkey(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    packages: list[str] = []
    cats: list[str] = []
    verbose = 0
    count = None
    throttle = 0
    seed = random.randrange(1, 2**40)
    i = 0
    while i < len(args):
        a = args[i]
        nxt = args[i + 1] if i + 1 < len(args) else None
        if a == "-p" and nxt:
            packages.append(nxt)
            i += 1
        elif a == "-c" and nxt:
            cats.append(nxt)
            i += 1
        elif a == "-s" and nxt and nxt.isdigit():
            seed = int(nxt)
            i += 1
        elif a == "-v":
            verbose += 1
        elif a == "--throttle" and nxt and nxt.isdigit():
            throttle = int(nxt)
            i += 1
        elif a.startswith("--pct-") or a == "--throttle":
            i += 1
        elif a.isdigit():
            count = int(a)
        i += 1
    if count is None:
        raise Usage("** Error: Count not specified\nusage: monkey [-p ALLOWED_PACKAGE [-p ALLOWED_PACKAGE] ...] ... COUNT", 1)
    cats = cats or ["android.intent.category.LAUNCHER", "android.intent.category.MONKEY"]
    target = next((sh.state.packages[p] for p in packages
                   if p in sh.state.packages and sh.state.packages[p].activities), None)
    if verbose:
        io.write(f":Monkey: seed={seed} count={count}\n")
        io.write("".join(f":AllowPackage: {p}\n" for p in packages))
        io.write("".join(f":IncludeCategory: {c}\n" for c in cats))
    if target is None:
        io.error("** No activities found to run, monkey aborted.\n")
        return 252
    activity = target.launcher_activity() or ""
    started = time.monotonic()
    try:
        sh.host.apps.start(target.name, activity, "monkey")
    except (LookupError, OSError, RuntimeError, ValueError) as e:
        io.error(f"** Monkey aborted: could not start {target.name}: {e}\n")
        return 1
    sh.state.foreground = (target.name, activity)
    if throttle:  # the events take their time, as on a phone (capped)
        with sh.state.lock.released():
            sh.state.stopping.wait(min(count * throttle / 1000, MONKEY_MAX_SECONDS))
    ms = max(1, int((time.monotonic() - started) * 1000))
    if verbose:
        short = target.short_activity(activity)
        io.write(":Switch: #Intent;action=android.intent.action.MAIN;category=android.intent.category.LAUNCHER;"
                 f"launchFlags=0x10200000;component={target.name}/{short};end\n")
        io.write(f"    // Allowing start of Intent {{ act=android.intent.action.MAIN cat=[android.intent.category.LAUNCHER] "
                 f"cmp={target.name}/{short} }} in package {target.name}\n")
    io.write(f"Events injected: {count}\n")
    if verbose:
        io.write(":Sending rotation degree=0, persist=false\n:Dropped: keys=0 pointers=0 trackballs=0 flips=0 rotations=0\n")
    io.write(f"## Network stats: elapsed time={ms}ms (0ms mobile, 0ms wifi, {ms}ms not connected)\n")
    if verbose:
        io.write("// Monkey finished\n")
    return 0


@command("input")
def input_(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    if args[:1] == ["-d"]:
        args = args[2:]
    verbs = {"text": 1, "keyevent": 1, "tap": 2, "swipe": 4, "draganddrop": 4, "press": 0, "roll": 2,
             "motionevent": 1, "keycombination": 2}
    if not args or args[0] not in verbs or len(args) - 1 < verbs[args[0]]:
        raise Usage("Usage: input [<source>] [-d DISPLAY_ID] <command> [<arg>...]\n\nThe commands and default sources are:\n"
                    "      text <string> (Default: keyboard)\n      keyevent [--longpress|--doubletap] <key code number or name> ...\n"
                    "      tap <x> <y> (Default: touchscreen)\n      swipe <x1> <y1> <x2> <y2> [duration(ms)]", 1)
    if args[0] == "keyevent" and args[1] in ("3", "KEYCODE_HOME", "HOME"):
        sh.state.foreground = None
    if args[0] == "keyevent":
        for key in args[1:]:
            press(sh, key)  # POWER, SLEEP, WAKEUP, MENU: the screen and keyguard (screen.py)
    sh.state.logcat("D", 558, "InputDispatcher", f"input {' '.join(args)}")
    if args[0] == "text":
        focused = sh.state.foreground
        pid = (sh.host.apps.pid_of(focused[0]) if focused else None) or 558
        sh.state.logcat("I", pid, TYPED_TAG, typed_text(args[1]))
    return 0


def typed_text(arg: str) -> str:
    """What Android's `input text ARG` types: ARG with each `%s` made a space, and nothing
    else decoded (backslashes and quotes are typed as they are). That is AOSP's
    InputShellCommand.sendText (Input.java before Android 12), which reads one argument
    only: further words after `text` are ignored, as here."""
    return arg.replace("%s", " ")


@command("wm")
def wm(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    w, h = sh.state.spec.build.screen
    if args[:1] == ["size"]:
        if len(args) == 1:
            io.write(f"Physical size: {w}x{h}\n")
            if sh.state.wm_size_override:
                ow, oh = sh.state.wm_size_override
                io.write(f"Override size: {ow}x{oh}\n")
        elif args[1] == "reset":
            sh.state.wm_size_override = None
        else:
            try:
                ow, oh = (int(x) for x in args[1].split("x"))
            except ValueError as e:
                raise Usage(f"Error: bad size {args[1]}", 255) from e
            sh.state.wm_size_override = (ow, oh)
        return 0
    if args[:1] == ["density"]:
        io.write(f"Physical density: {sh.state.spec.build.density}\n")
        return 0
    if args[:1] == ["dismiss-keyguard"]:
        sh.state.conditions.dismiss_keyguard()
        return 0
    raise Usage("Window manager (window) commands:\n  size [reset|WxH|WdpxHdp]\n  density [reset|DENSITY]", 1 if args else 0)


def dumpsys_window(sh: Shell, args: list[str], io: IO) -> int:
    fg = sh.state.foreground
    focus = (f"Window{{{abs(hash(fg)) % 0xFFFFFFF:07x} u0 {fg[0]}/{fg[1]}}}" if fg
             else "Window{85a52f2 u0 com.android.launcher3/com.android.launcher3.uioverrides.QuickstepLauncher}")
    app = (f"ActivityRecord{{{abs(hash(fg)) % 0xFFFFFF:06x} u0 {fg[0]}/{fg[1]} t12}}" if fg
           else "ActivityRecord{b1c2d3 u0 com.android.launcher3/.uioverrides.QuickstepLauncher t2}")
    if args[:1] == ["windows"] and sh.state.sdk >= 33:
        io.write("WINDOW MANAGER WINDOWS (dumpsys window windows)\n")
        io.write(f"  Window #0 {focus}:\n    mDisplayId=0 rootTaskId=12 mSession=Session{{8e5857d 8821:u0a10178}}\n")
        return 0
    if args[:1] == ["policy"]:
        io.write(window_policy(sh))
        return 0
    io.write("WINDOW MANAGER WINDOWS (dumpsys window windows)\n")
    io.write(f"  mCurrentFocus={focus_window(sh) or focus}\n  mFocusedApp={app}\n")
    w, h = sh.state.spec.build.screen
    io.write(f"  mInTouchMode=true\n  mScreenRect=[0,0][{w},{h}]\n")
    if not args:  # the whole dump holds the policy state too
        io.write("\n" + window_policy(sh))
    return 0


@command("dumpsys")
def dumpsys(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    if not args:
        io.write("Currently running services:\n  activity\n  battery\n  display\n  package\n  power\n  window\n")
        return 0
    name, rest = args[0], args[1:]
    if name == "package":
        return dumpsys_package(sh, rest, io)
    if name == "window":
        return dumpsys_window(sh, rest, io)
    if name == "display":
        w, h = sh.state.spec.build.screen
        io.write("DISPLAY MANAGER (dumpsys display)\n  mOnlyCode=false\n  mSafeMode=false\n"
                 f"  mViewports=[DisplayViewport{{type=INTERNAL, valid=true, isActive=true, displayId=0, "
                 f"uniqueId='local:4619827259835644672', physicalPort=0, orientation={sh.state.rotation}, "
                 f"logicalFrame=Rect(0, 0 - {w}, {h}), physicalFrame=Rect(0, 0 - {w}, {h}), "
                 f"deviceWidth={w}, deviceHeight={h}}}]\n")
        return 0
    if name == "activity":
        fg = sh.state.foreground
        if fg:
            short = sh.state.packages[fg[0]].short_activity(fg[1]) if fg[0] in sh.state.packages else fg[1]
            pid = sh.host.apps.pid_of(fg[0]) or 0
            io.write(f"  mResumedActivity: ActivityRecord{{c0ffee1 u0 {fg[0]}/{short} t12}}\n"
                     f"  topResumedActivity=ActivityRecord{{c0ffee1 u0 {fg[0]}/{short} t12}}\n"
                     f"  ACTIVITY {fg[0]}/{short} c0ffee1 pid={pid}\n")
        return 0
    if name == "location":
        io.write("Location Manager State:\n  Test Providers:\n")
        for prov, entry in sorted(sh.state.test_providers.items()):
            loc = entry.get("location")
            where = f"Location[{prov} {loc['lat']:.6f},{loc['lon']:.6f} hAcc={loc['accuracy']:g}]" if loc else "null"
            io.write(f"    {prov} enabled={'true' if entry.get('enabled') else 'false'} last location={where}\n")
        return 0
    if name == "power":
        io.write(power_state(sh))
        return 0
    if name == "battery":
        io.write("Current Battery Service state:\n  AC powered: false\n  USB powered: true\n  Wireless powered: false\n"
                 "  Max charging current: 500000\n  Max charging voltage: 5000000\n  Charge counter: 2843000\n"
                 "  status: 2\n  health: 2\n  present: true\n  level: 87\n  scale: 100\n  voltage: 4210\n"
                 "  temperature: 250\n  technology: Li-ion\n")
        return 0
    io.write(f"Can't find service: {name}\n")
    return 0
