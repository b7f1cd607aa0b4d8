"""Profile steps executed on a prepared handset, each recorded in the timeline.

A step that fails is recorded with its error and the run goes on with the next step
(an app that crashed must not hide what the others do); a lost handset ends the run.
Waits are interruptible: Ctrl-C ends the current step at once and the run winds down.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from harness.config import (
    AccountStep,
    IdleStep,
    InputStep,
    IntentStep,
    LaunchStep,
    MonkeyStep,
    PromptStep,
    RebootStep,
    SettingsStep,
    SimStep,
    StopStep,
    WaitStep,
    step_kind,
    step_phase,
)
from harness.devices import apps
from harness.errors import DeviceLostError, HarnessError
from harness.run.scenario import NotConfirmed, ScenarioSteps
from harness.run.technician import NOBODY, Technician
from harness.run.timeline import StepRecord, StepStatus, Timeline

if TYPE_CHECKING:
    from harness.run.session import HandsetSession


def planned_seconds(step: BaseModel) -> float:
    """How long a step is expected to take, for the remaining-time estimate."""
    match step:
        case LaunchStep(launch=args):
            return args.wait + 2.0
        case MonkeyStep(monkey=args):
            return args.events * args.throttle + 2.0
        case WaitStep(wait=seconds) | IdleStep(idle=seconds):
            return seconds
        case RebootStep(reboot=args):
            return args.capture + 10.0
    return 1.0


def step_package(step: BaseModel) -> str | None:
    args = getattr(step, step_kind(step))
    return getattr(args, "package", None)


class StepRunner:
    def __init__(self, session: HandsetSession, stop: threading.Event, timeline: Timeline,
                 technician: Technician = NOBODY):
        self.session = session
        self.stop = stop
        self.timeline = timeline
        self.scenario = ScenarioSteps(session, technician, stop)

    def run(self, index: int, step: BaseModel) -> None:
        kind = step_kind(step)
        args = step.model_dump(mode="json")[kind]
        record = self.timeline.begin(index, kind, args if isinstance(args, dict) else {"seconds": args},
                                     step_package(step), step_phase(step))
        try:
            self._dispatch(step, record)
        except NotConfirmed as e:
            self.timeline.end(record, StepStatus.INTERRUPTED if self.stop.is_set() else StepStatus.SKIPPED,
                              e.reason)
            return
        except DeviceLostError:
            self.timeline.end(record, StepStatus.FAILED, "handset lost")
            raise
        except HarnessError as e:
            self.timeline.end(record, StepStatus.FAILED, str(e))
            return
        except KeyboardInterrupt:
            self.timeline.end(record, StepStatus.INTERRUPTED)
            raise
        self.timeline.end(record, StepStatus.INTERRUPTED if self.stop.is_set() else StepStatus.OK)

    def _sleep(self, seconds: float) -> None:
        self.stop.wait(seconds)

    def _dispatch(self, step: BaseModel, record: StepRecord) -> None:
        handset = self.session.handset
        notes = record.notes
        match step:
            case LaunchStep(launch=args):
                self._launch(args.package, args.activity, args.spawn, notes)
                self._sleep(args.wait)
            case MonkeyStep(monkey=args):
                result = apps.monkey(handset, args.package, args.events, args.seed,
                                     int(args.throttle * 1000))
                notes.append(f"monkey: {result}")
                self.session.hook_running(args.package, notes)
            case InputStep(input=args):
                if args.tap is not None:
                    apps.tap(handset, *args.tap)
                elif args.text is not None:
                    apps.text(handset, args.text)
                else:
                    apps.keyevent(handset, args.keyevent or "")
            case IntentStep(intent=args):
                apps.intent(handset, args.action, args.data, args.package)
            case WaitStep(wait=seconds):
                self._sleep(seconds)
            case IdleStep(idle=seconds):
                apps.keyevent(handset, "KEYCODE_HOME")
                self._sleep(seconds)
            case RebootStep(reboot=args):
                self.session.reboot(notes)
                self._sleep(args.capture)
            case StopStep(stop=args):
                self.session.unhook(args.package)
                apps.stop(handset, args.package)
            case SettingsStep(settings=args):
                self.scenario.settings(args, record)
            case SimStep(sim=args):
                self.scenario.sim(args, record)
            case AccountStep(account=args):
                self.scenario.account(args, record)
            case PromptStep(prompt=args):
                self.scenario.prompt(args, record)

    def _launch(self, package: str, activity: str | None, spawn: bool, notes: list[Any]) -> None:
        if spawn and self.session.can_spawn:
            self.session.spawn(package, notes)
            return
        apps.launch(self.session.handset, package, activity)
        self.session.hook_running(package, notes)
