"""Network commands a technician (and `lab doctor`) uses on a phone: toybox `nc` to the
handset's own loopback (where `adb reverse` listens), and the `iptables` OUTPUT rules a
firewall app (AFWall+, NetGuard in root mode) puts on the loopback, which stop it.

`nc` to any other IP address goes out as a phone's would while its WireGuard app holds
the network (a tunnel up, or always-on lockdown): from the handset's namespace, so through
the tunnel (or nowhere, with the tunnel down). Otherwise a virtual handset has no route to
the world outside its proxy: "Network is unreachable"."""

from __future__ import annotations

import socket

from harness.names import is_ip
from harness.virtual.shell.command_io import IO, Usage
from harness.virtual.shell.interp import Shell, command

LOOPBACK = ("127.0.0.1", "localhost", "::1")
NC_MAX_SECONDS = 30.0
IPTABLES_DENIED = ("iptables v1.8.7 (legacy): can't initialize iptables table `filter': "
                   "Permission denied (you must be root)\nPerhaps iptables or your kernel needs to be upgraded.")


@command("nc", "netcat")
def nc(sh: Shell, argv: list[str], io: IO) -> int:
    """`nc [-w SECS] [-q SECS] HOST PORT`: stdin to the connection, the reply to stdout."""
    args = argv[1:]
    wait = 10.0
    rest: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-w", "-q", "-W") and i + 1 < len(args):
            if a == "-w":
                try:
                    wait = min(float(args[i + 1]), NC_MAX_SECONDS)
                except ValueError as e:
                    raise Usage(f"nc: -w: bad number '{args[i + 1]}'", 1) from e
            i += 1
        elif not a.startswith("-"):
            rest.append(a)
        i += 1
    if len(rest) != 2 or not rest[1].isdigit() or not 0 < int(rest[1]) < 65536:
        raise Usage("usage: nc [-46ELlntUu] [-pqWw #] [-s addr] {IPADDR PORTNUM|-f FILENAME|COMMAND...}", 1)
    host, port = rest[0], int(rest[1])
    network = getattr(sh.host.apps, "network", None)
    if host not in LOOPBACK:
        if not is_ip(host):
            io.error(f"nc: bad address '{host}'\n")
            return 1
        if network is None or not network.contained:
            io.error("nc: connect: Network is unreachable\n")
            return 1
    elif sh.state.conditions.loopback_blocked(port):
        io.error("nc: connect: Connection refused\n")
        return 1
    data = io.stdin
    with sh.state.lock.released():  # other sessions go on while this one talks
        try:
            conn = (socket.create_connection((sh.state.device_loopback, port), timeout=wait)
                    if host in LOOPBACK else network.connect((host, port), wait))
            with conn:
                conn.sendall(data)
                conn.shutdown(socket.SHUT_WR)
                reply = bytearray()
                while chunk := conn.recv(65536):
                    reply += chunk
        except ConnectionRefusedError:
            io.error("nc: connect: Connection refused\n")
            return 1
        except TimeoutError:
            io.error("nc: connect: Connection timed out\n")
            return 1
        except OSError as e:
            io.error(f"nc: {e.strerror or e}\n")
            return 1
    io.out += reply
    return 0


@command("iptables", "ip6tables")
def iptables(sh: Shell, argv: list[str], io: IO) -> int:
    """The OUTPUT chain only: -A/-I add a rule, -D removes the same rule, -F flushes,
    -S lists (`-P OUTPUT ACCEPT` then `-A OUTPUT ...` lines)."""
    if sh.uid != 0:
        raise Usage(IPTABLES_DENIED, 3)
    args = [a for a in argv[1:] if a not in ("-w", "-W")]
    rules = sh.state.conditions.firewall
    if args[:1] in (["-S"], ["--list-rules"]):
        io.write("-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n")
        io.write("".join("-A OUTPUT " + " ".join(r) + "\n" for r in rules))
        return 0
    if args[:1] == ["-F"]:
        rules.clear()
        return 0
    if len(args) < 2 or args[0] not in ("-A", "-I", "-D") or args[1] != "OUTPUT":
        raise Usage("iptables v1.8.7 (legacy): only the OUTPUT chain is kept here\n"
                    "Try `iptables -h' or 'iptables --help' for more information.", 2)
    rule = args[2:]
    if args[0] == "-I" and rule[:1] and rule[0].isdigit():
        rule = rule[1:]
    if args[0] == "-D":
        if rule not in rules:
            io.error("iptables: Bad rule (does a matching rule exist in that chain?).\n")
            return 1
        rules.remove(rule)
    elif args[0] == "-I":
        rules.insert(0, rule)
    else:
        rules.append(rule)
    return 0
