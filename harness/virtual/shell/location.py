"""Mock locations: `appops set PKG android:mock_location allow` and `cmd location providers ...`."""

from __future__ import annotations

import time

from harness.virtual.shell.command_io import IO, Usage
from harness.virtual.shell.interp import Shell, command


@command("appops")
def appops(sh: Shell, argv: list[str], io: IO) -> int:
    args = [a for a in argv[1:] if a not in ("--user", "0", "--uid")]
    if len(args) >= 4 and args[0] == "set":
        op = args[2] if args[2].startswith("android:") else "android:" + args[2].lower()
        if args[1] not in sh.state.packages:
            raise Usage(
                "Exception occurred while executing 'set':\n"
                f"java.lang.IllegalArgumentException: Unknown package: {args[1]}", 255)
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
    if args[:1] != ["providers"] or len(args) < 3:
        raise Usage("Location service (location) commands:\n  providers add-test-provider <PROVIDER> ...", 255)
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
