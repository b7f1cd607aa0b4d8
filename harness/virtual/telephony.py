"""The handset's SIM and accounts as a technician changes them (the virtual hands).

A SIM taken out leaves TelephonyManager's IMSI, ICCID and number null (see
apps/answers.py) and the SIM properties as a phone shows them without one
(`gsm.sim.state` ABSENT, no SIM or network operator); put back, they return.
"""

from __future__ import annotations

from typing import Any

SIM_PROPS = ("gsm.sim.operator.alpha", "gsm.sim.operator.iso-country", "gsm.sim.operator.numeric",
             "gsm.operator.alpha", "gsm.operator.iso-country", "gsm.operator.numeric")


def insert_sim(state: Any) -> bool:
    """Put the spec's SIM in; False when it already is."""
    with state.lock:
        if state.sim_present:
            return False
        build, ids = state.spec.build, state.spec.identifiers
        state.props.update({
            "gsm.sim.state": "LOADED", "gsm.sim.operator.alpha": build.operator,
            "gsm.sim.operator.iso-country": build.operator_iso, "gsm.sim.operator.numeric": ids.imsi[:5],
            "gsm.operator.alpha": build.operator, "gsm.operator.iso-country": build.operator_iso,
            "gsm.operator.numeric": build.operator_numeric,
        })
        state.sim_present = True
    state.logcat("I", 952, "SubscriptionInfoUpdater", "SIM state changed: LOADED")
    return True


def remove_sim(state: Any) -> bool:
    """Take the SIM out; False when there is none."""
    with state.lock:
        if not state.sim_present:
            return False
        state.props["gsm.sim.state"] = "ABSENT"
        for name in SIM_PROPS:
            state.props[name] = ""
        state.sim_present = False
    state.logcat("I", 952, "SubscriptionInfoUpdater", "SIM state changed: ABSENT")
    return True


def add_account(state: Any, name: str, kind: str) -> bool:
    """Sign in: add the account; False when it is there already."""
    with state.lock:
        if any(a.get("name") == name and a.get("type") == kind for a in state.accounts):
            return False
        state.accounts.append({"name": name, "type": kind})
    state.logcat("I", 558, "AccountManagerService", f"account added: type {kind}")
    return True


def remove_account(state: Any, name: str) -> bool:
    """Sign out: remove every account of that name; False when there was none."""
    with state.lock:
        before = len(state.accounts)
        state.accounts[:] = [a for a in state.accounts if a.get("name") != name]
        removed = len(state.accounts) != before
    if removed:
        state.logcat("I", 558, "AccountManagerService", "account removed")
    return removed
