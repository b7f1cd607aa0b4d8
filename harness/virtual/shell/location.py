"""Location: the master switch (`cmd location set-location-enabled|is-location-enabled`,
and `settings put secure location_mode` before Android 11), and mock locations
(`appops set PKG android:mock_location allow`, `cmd location providers ...`).

The switch is Settings.Secure location_mode: 0 off, 3 on (LOCATION_MODE_ON). AOSP
LocationShellCommand has set-location-enabled from Android 11 (`[--user N] true|false`)
and is-location-enabled from Android 12 (`true|false [--user N]`); a value other than
"true" switches location off (Boolean.parseBoolean). Switching it on fires
location_enabled, off location_disabled.
"""

from __future__ import annotations

import time

from harness.virtual.shell.command_io import IO, Usage
from harness.virtual.shell.events import fire_on_change
from harness.virtual.shell.interp import Shell, command

SET_ENABLED_SDK = 30
IS_ENABLED_SDK = 31
LOCATION_USAGE = ("Location service (location) commands:\n  is-location-enabled [--user <USER_ID>]\n"
                  "  set-location-enabled true|false [--user <USER_ID>]\n"
                  "  providers add-test-provider <PROVIDER> ...")


def location_on(sh: Shell) -> bool:
    return sh.state.settings["secure"].get("location_mode", "0") != "0"


def location_switched(sh: Shell, before: bool) -> None:
    """Fire location_enabled/_disabled if the switch changed since `before`."""
    fire_on_change(sh, before, location_on(sh), "location_enabled", "location_disabled")


def _without_user(args: list[str]) -> list[str] | None:
    """The arguments with one `--user N` taken out; None when --user has no value."""
    if "--user" not in args:
        return args
    at = args.index("--user")
    return None if at + 1 >= len(args) else args[:at] + args[at + 2:]


def location_switch(sh: Shell, verb: str, args: list[str], io: IO) -> int:
    if sh.state.sdk < (SET_ENABLED_SDK if verb == "set-location-enabled" else IS_ENABLED_SDK):
        io.write(f"Unknown command: {verb}\n")  # BasicShellCommandHandler.handleDefaultCommands
        return 255
    rest = _without_user(args)
    if verb == "is-location-enabled" and rest == []:
        io.write("true\n" if location_on(sh) else "false\n")
        return 0
    if verb == "set-location-enabled" and rest is not None and len(rest) == 1:
        before = location_on(sh)
        sh.state.settings["secure"]["location_mode"] = "3" if rest[0] == "true" else "0"
        location_switched(sh, before)
        return 0
    raise Usage(f"Exception occurred while executing '{verb}':\n"
                f"java.lang.IllegalArgumentException: Argument expected after \"{verb}\"", 255)


@command("appops")
def appops(sh: Shell, argv: list[str], io: IO) -> int:
    args = [a for a in argv[1:] if a not in ("--user", "0", "--uid")]
    if len(args) >= 4 and args[0] == "set":
        op = args[2] if args[2].startswith("android:") else "android:" + args[2].lower()
        if args[1] not in sh.state.packages:
            raise Usage(
                "Exception occurred while executing 'set':\n"
                f"java.lang.IllegalArgumentException: Unknown package: {args[1]}", 255)
        if args[3] == "default":  # back to the op's default: no longer listed
            sh.state.appops.pop((args[1], op), None)
        else:
            sh.state.appops[(args[1], op)] = args[3]
        return 0
    if len(args) >= 2 and args[0] == "get":
        for (pkg, op), mode in sorted(sh.state.appops.items()):
            if pkg == args[1] and (len(args) < 3 or op.endswith(args[2].split(":")[-1].lower())):
                io.write(f"{op.split(':')[-1].upper()}: {mode}\n")
        if not any(pkg == args[1] for pkg, _ in sh.state.appops):
            io.write("No operations.\n")
        return 0
    raise Usage("AppOps service (appops) commands:\n  set [--user <USER_ID>] <PACKAGE | UID> <OP> <MODE>\n"
                "  get [--user <USER_ID>] <PACKAGE | UID> [<OP>]", 1)


def cmd_location(sh: Shell, args: list[str], io: IO) -> int:
    state = sh.state
    if args[:1] in (["is-location-enabled"], ["set-location-enabled"]):
        return location_switch(sh, args[0], args[1:], io)
    if args[:1] != ["providers"] or len(args) < 3:
        raise Usage(LOCATION_USAGE, 255)
    verb, provider, rest = args[1], args[2], args[3:]
    if state.appops.get(("com.android.shell", "android:mock_location")) != "allow":
        raise Usage(f"Exception occurred while executing '{args[0]}':\njava.lang.SecurityException: "
                    "com.android.shell from uid 2000 not allowed to perform MOCK_LOCATION", 255)
    if verb == "add-test-provider":
        state.test_providers[provider] = {"enabled": False, "location": None}
        return 0
    if provider not in state.test_providers:
        raise Usage(f"Exception occurred while executing '{args[0]}':\njava.lang.IllegalArgumentException: "
                    f"provider doesn't exist: {provider}", 255)
    entry = state.test_providers[provider]
    if verb == "remove-test-provider":
        del state.test_providers[provider]
        if state.location and state.location.get("provider") == provider:
            state.location = None
    elif verb == "set-test-provider-enabled":
        entry["enabled"] = rest[:1] == ["true"]
    elif verb == "set-test-provider-location":
        if "--location" not in rest or rest.index("--location") + 1 >= len(rest):
            raise Usage("Exception occurred while executing 'providers':\njava.lang.IllegalArgumentException: "
                        "location argument must be specified", 255)
        try:
            lat_s, lon_s = rest[rest.index("--location") + 1].split(",")
            lat, lon = float(lat_s), float(lon_s)
        except ValueError as e:
            raise Usage("Exception occurred while executing 'providers':\njava.lang.IllegalArgumentException: "
                        "bad location", 255) from e
        accuracy = float(rest[rest.index("--accuracy") + 1]) if "--accuracy" in rest[:-1] else 10.0
        entry["location"] = {"lat": lat, "lon": lon, "accuracy": accuracy}
        state.location = {"provider": provider, "lat": lat, "lon": lon, "accuracy": accuracy,
                          "time": int(time.time() * 1000)}
    else:
        raise Usage(f"Unknown command: {verb}", 255)
    return 0
