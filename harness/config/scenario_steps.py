"""Profile steps of the firmware-audit scenarios (Leith's method): Settings, SIM, account,
and a prompt for any manual action.

    - settings: open                          # open the Settings app
    - settings: {location: on, wifi: off}     # switch location, wifi, bluetooth, airplane_mode
    - sim: insert                             # or remove; {action: insert, timeout: 10m}
    - account: sign-in                        # or sign-out; {action: sign-in, name: ..., type: com.google}
    - prompt: Plug the charger in             # or {message: ..., timeout: 2m}

A real phone's SIM and account steps are a technician's (a prompt that waits up to
`timeout` for Enter); the virtual handset does them itself. Settings switches are shell
commands on every handset. Each step may carry `phase:` like any other.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator, model_validator

from harness.config.phases import StepModel
from harness.config.values import Duration, StrictModel

ACCOUNT_NAME_PATTERN = r"^[A-Za-z0-9._+@-]{1,128}$"
ACCOUNT_TYPE_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$"
MESSAGE_MAX = 500
SWITCHES = ("location", "wifi", "bluetooth", "airplane_mode")
DEFAULT_TIMEOUT = 300.0
_MESSAGE_BAD = re.compile(r"[\x00-\x1f\x7f]")


class SettingsArgs(StrictModel):
    """Open Settings and/or switch location, Wi-Fi, Bluetooth, airplane mode (true/false, on/off)."""

    open: bool = Field(default=False, description="open the Settings app (am start -a android.settings.SETTINGS)")
    location: bool | None = Field(default=None, description="switch location on or off")
    wifi: bool | None = Field(default=None, description="switch Wi-Fi on or off")
    bluetooth: bool | None = Field(default=None, description="switch Bluetooth on or off")
    airplane_mode: bool | None = Field(default=None, description="switch airplane mode on or off")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("settings needs a value: open, or a mapping like {location: on}")
        if value == "open":
            return {"open": True}
        if isinstance(value, str):
            raise ValueError(f"{value!r}: settings takes `open`, or a mapping like "
                             "{location: on, wifi: off} (keys: open, " + ", ".join(SWITCHES) + ")")
        return value

    @model_validator(mode="after")
    def _something(self) -> SettingsArgs:
        if not self.open and all(getattr(self, s) is None for s in SWITCHES):
            raise ValueError("settings does nothing: give open: true or one of " + ", ".join(SWITCHES))
        return self

    def switches(self) -> list[tuple[str, bool]]:
        """(switch, on) in a fixed order: location, wifi, bluetooth, airplane_mode."""
        return [(s, bool(getattr(self, s))) for s in SWITCHES if getattr(self, s) is not None]


class SimAction(StrEnum):
    INSERT = "insert"
    REMOVE = "remove"


class SimArgs(StrictModel):
    action: SimAction = Field(description="insert or remove the SIM card")
    timeout: Duration = Field(default=DEFAULT_TIMEOUT, description="how long a technician has (real phones)")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("sim needs an action: insert or remove")
        return {"action": value} if isinstance(value, str) else value


class AccountAction(StrEnum):
    SIGN_IN = "sign-in"
    SIGN_OUT = "sign-out"


class AccountArgs(StrictModel):
    action: AccountAction = Field(description="sign-in or sign-out")
    name: str | None = Field(default=None, description="the account (an e-mail address); the virtual "
                             "handset uses lab.tester@example.com", json_schema_extra={"pattern": ACCOUNT_NAME_PATTERN})
    type: str = Field(default="com.google", description="the account type, like com.google",
                      json_schema_extra={"pattern": ACCOUNT_TYPE_PATTERN})
    timeout: Duration = Field(default=DEFAULT_TIMEOUT, description="how long a technician has (real phones)")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("account needs an action: sign-in or sign-out")
        return {"action": value} if isinstance(value, str) else value

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> Any:
        if value is not None and (not isinstance(value, str) or not re.fullmatch(ACCOUNT_NAME_PATTERN, value)):
            raise ValueError(f"{value!r} is not an account name: 1-128 letters, digits and . _ + @ - "
                             "(like lab.tester@example.com)")
        return value

    @field_validator("type", mode="before")
    @classmethod
    def _type(cls, value: Any) -> Any:
        if not isinstance(value, str) or not re.fullmatch(ACCOUNT_TYPE_PATTERN, value):
            raise ValueError(f"{value!r} is not an account type (like com.google)")
        return value


class PromptArgs(StrictModel):
    """A manual action: the message is shown, Enter confirms (its time goes to the timeline)."""

    message: str = Field(min_length=1, max_length=MESSAGE_MAX, description="what the technician does")
    timeout: Duration = Field(default=DEFAULT_TIMEOUT, description="how long to wait for Enter")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("prompt needs a message, like: - prompt: Plug the charger in")
        return {"message": value} if isinstance(value, str) else value

    @field_validator("message", mode="before")
    @classmethod
    def _message(cls, value: Any) -> Any:
        if isinstance(value, str) and (_MESSAGE_BAD.search(value) or not value.strip()):
            raise ValueError("a prompt message is one line of text, without control characters")
        return value


class SettingsStep(StepModel):
    settings: SettingsArgs


class SimStep(StepModel):
    sim: SimArgs


class AccountStep(StepModel):
    account: AccountArgs


class PromptStep(StepModel):
    prompt: PromptArgs


SCENARIO_KINDS = ("settings", "sim", "account", "prompt")
SCENARIO_EXAMPLES = {
    "settings": "- settings: open",
    "sim": "- sim: insert",
    "account": "- account: sign-in",
    "prompt": "- prompt: Plug the charger in",
}
