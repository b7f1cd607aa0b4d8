"""lab.yaml and profile models (pydantic), loaded with file:line:column errors, checked
against each other (`lab config check`), and published as JSON Schemas for editors."""

from harness.config.lab import (
    CanaryConfig,
    DeviceEntry,
    Flag,
    FridaMode,
    GeoConfig,
    GeoOverride,
    LabConfig,
    NetworkMode,
    Policy,
    RegressionPolicy,
    Severity,
    load_lab,
    load_profile,
)
from harness.config.profile import (
    HookSet,
    IdleStep,
    InputStep,
    IntentStep,
    LaunchStep,
    MonkeyStep,
    Profile,
    RebootStep,
    StopStep,
    WaitStep,
    step_kind,
    step_phase,
)
from harness.config.scenario_steps import (
    AccountAction,
    AccountStep,
    PromptStep,
    SettingsStep,
    SimAction,
    SimStep,
)

__all__ = [
    "AccountAction", "AccountStep", "PromptStep", "SettingsStep", "SimAction", "SimStep",
    "CanaryConfig", "DeviceEntry", "Flag", "FridaMode", "GeoConfig", "GeoOverride", "HookSet",
    "IdleStep", "InputStep", "IntentStep", "LabConfig", "LaunchStep", "MonkeyStep",
    "NetworkMode", "Policy", "Profile", "RebootStep", "RegressionPolicy", "Severity",
    "StopStep", "WaitStep", "load_lab", "load_profile", "step_kind", "step_phase",
]
