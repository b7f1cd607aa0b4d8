"""The scenario steps of a run: `settings`, `sim`, `account`, `prompt`.

Settings switches are shell commands on every handset (devices/scenario.py, journaled so
restore puts them back). A SIM or an account is changed by the virtual handset itself;
on a real phone the technician does it, asked through a prompt. A prompt that is not
confirmed (timeout, skipped, nobody to ask) makes the step `skipped`, with the reason;
the question and its answer, with their times, go into the step's timeline entry.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from harness.config.scenario_steps import (
    AccountAction,
    AccountArgs,
    PromptArgs,
    SettingsArgs,
    SimAction,
    SimArgs,
)
from harness.devices import Handset, scenario
from harness.run.technician import Technician
from harness.run.timeline import StepRecord

if TYPE_CHECKING:
    from harness.run.session import HandsetSession

SWITCH_NAMES = {"location": "location", "wifi": "Wi-Fi", "bluetooth": "Bluetooth",
                "airplane_mode": "airplane mode"}


class NotConfirmed(Exception):  # noqa: N818 - an outcome, not an error
    """A manual step the technician did not confirm; the step is skipped for `reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ScenarioSteps:
    def __init__(self, session: HandsetSession, technician: Technician, stop: threading.Event) -> None:
        self.session = session
        self.technician = technician
        self.stop = stop

    @property
    def _handset(self) -> Handset:
        assert self.session.handset is not None
        return self.session.handset

    def settings(self, args: SettingsArgs, record: StepRecord) -> None:
        handset = self._handset
        if args.open:
            scenario.open_settings(handset)
            record.notes.append("Settings opened (am start -a android.settings.SETTINGS)")
        assert self.session.prepared is not None
        manual = []
        for name, on in args.switches():
            if not scenario.set_switch(handset, self.session.prepared.journal, name, on,
                                       handset.info.sdk, record.notes):
                manual.append(f"switch {SWITCH_NAMES[name]} {'on' if on else 'off'}")
        self._after(record)
        if manual:
            self._ask(record, f"In Settings, {' and '.join(manual)} (Android {handset.info.android_release} "
                              "has no shell command for it)", 300.0)

    def sim(self, args: SimArgs, record: StepRecord) -> None:
        insert = args.action == SimAction.INSERT
        if self.session.is_virtual:
            record.notes.append(scenario.virtual_sim(self._handset, insert))
            self._after(record)
            return
        self._ask(record, f"{'Insert the SIM card into' if insert else 'Take the SIM card out of'} "
                          f"the handset {self._handset.serial}"
                          + (", and wait until it shows the network" if insert else ""), args.timeout)

    def account(self, args: AccountArgs, record: StepRecord) -> None:
        sign_in = args.action == AccountAction.SIGN_IN
        if self.session.is_virtual:
            record.notes.append(scenario.virtual_account(self._handset, sign_in, args.name, args.type))
            self._after(record)
            return
        who = f" {args.name}" if args.name else ""
        self._ask(record, (f"Sign in to the account{who} ({args.type}) on the handset" if sign_in else
                           f"Sign out of the account{who} ({args.type}) on the handset")
                  + f" {self._handset.serial}", args.timeout)

    def prompt(self, args: PromptArgs, record: StepRecord) -> None:
        self._ask(record, args.message, args.timeout)

    def _after(self, record: StepRecord) -> None:
        """Hook the profile's apps an event may have started (a firmware service)."""
        self.session.hook_profile_apps(record.notes)

    def _ask(self, record: StepRecord, message: str, timeout: float) -> None:
        answer = self.technician.ask(message, timeout, self.stop)
        record.prompt = answer.as_dict()
        if not answer.confirmed:
            record.notes.append(f"not confirmed: {answer.reason}")
            raise NotConfirmed(answer.reason or "not confirmed")
        record.notes.append("confirmed by the technician")
