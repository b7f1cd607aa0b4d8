"""`labvirt`: the virtual handset's hands, for what a technician does to a real phone.

Only the virtual handset has this command (a real phone answers "not found"): the harness
sends it where a profile step needs a person (`sim: insert`, `account: sign-in`) and the
handset is virtual. Each change fires its system event to the apps that listen.

    labvirt sim insert|remove|status
    labvirt account add NAME [TYPE]     (TYPE defaults to com.google)
    labvirt account remove NAME
    labvirt account list
"""

from __future__ import annotations

from harness.virtual.shell.command_io import IO, Usage
from harness.virtual.shell.events import fire
from harness.virtual.shell.interp import Shell, command
from harness.virtual.telephony import add_account, insert_sim, remove_account, remove_sim

USAGE = ("usage: labvirt sim insert|remove|status\n"
         "       labvirt account add NAME [TYPE]\n"
         "       labvirt account remove NAME\n"
         "       labvirt account list")


@command("labvirt")
def labvirt(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    if len(args) == 2 and args[0] == "sim":
        return _sim(sh, args[1], io)
    if len(args) >= 2 and args[0] == "account":
        return _account(sh, args[1], args[2:], io)
    raise Usage(USAGE, 1)


def _sim(sh: Shell, verb: str, io: IO) -> int:
    state = sh.state
    if verb == "status":
        io.write("present\n" if state.sim_present else "absent\n")
        return 0
    if verb == "insert":
        changed = insert_sim(state)
        io.write("sim: inserted\n" if changed else "sim: already inserted\n")
        if changed:
            fire(sh, "sim_inserted")
        return 0
    if verb == "remove":
        changed = remove_sim(state)
        io.write("sim: removed\n" if changed else "sim: no SIM to remove\n")
        if changed:
            fire(sh, "sim_removed")
        return 0
    raise Usage(USAGE, 1)


def _account(sh: Shell, verb: str, rest: list[str], io: IO) -> int:
    state = sh.state
    if verb == "list" and not rest:
        io.write("".join(f"{a['name']} {a['type']}\n" for a in state.accounts))
        return 0
    if verb == "add" and len(rest) in (1, 2):
        kind = rest[1] if len(rest) == 2 else "com.google"
        changed = add_account(state, rest[0], kind)
        io.write(f"account: added {rest[0]} ({kind})\n" if changed else f"account: {rest[0]} is already there\n")
        if changed:
            fire(sh, "account_added")
        return 0
    if verb == "remove" and len(rest) == 1:
        changed = remove_account(state, rest[0])
        io.write(f"account: removed {rest[0]}\n" if changed else f"account: no account {rest[0]}\n")
        if changed:
            fire(sh, "account_removed")
        return 0
    raise Usage(USAGE, 1)
