"""The requirements table a lab audits against, as lab.yaml extends or replaces it.

The project ships a table (harness/analysis/data/requirements.csv: OWASP MASVS v2,
MASWE and MASTG ids, ETSI EN 303 645 provisions, India's DPDP Act 2023 s.16, each with
its source). Each row names the findings it applies to (`applies_to`, from TRIGGERS); a
row with a `jurisdiction` applies only to labs of that country. In lab.yaml:

    requirements:
      replace: false        # true: only the rows below; false: the shipped table plus them
      rows:                 # a row with a shipped row's id takes its place
        - id: LAB-7.2
          standard: Lab procedure LP-7
          title: No identifier leaves the device unhashed
          applies_to: [identifier_sent]
          source: https://lab.example/procedures/lp-7
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, field_validator

from harness.config.values import CountryCode, StrictModel, first_duplicate


class Trigger(StrEnum):
    """What a finding is, as the requirements table names it."""

    DATA_SENT = "data_sent"  # a canary or identifier left the device
    IDENTIFIER_SENT = "identifier_sent"  # a device, SIM or user identifier was sent
    PERSONAL_DATA_SENT = "personal_data_sent"  # other personal data: contacts, location, ...
    DATA_ABROAD = "data_abroad"  # sensitive data to a server outside the lab's jurisdiction
    DATA_TO_WATCHLIST = "data_to_watchlist"  # sensitive data to a watch-list country
    CLEARTEXT_DATA = "cleartext_data"  # sensitive data without TLS
    TRACKER_DATA = "tracker_data"  # a known tracker SDK read or sent sensitive data
    TELEMETRY = "telemetry"  # sensitive data sent on a timer (a recurring connection)
    CLEARTEXT = "cleartext"  # traffic without TLS
    TLS_REJECTED = "tls_rejected"  # the app refused the proxy's certificate (pinning)
    BYPASSED_PROXY = "bypassed_proxy"  # a connection around the proxy, unread
    WATCHLIST_COUNTRY = "watchlist_country"  # a destination in a watch-list country
    FOREIGN = "foreign"  # a destination outside the lab's jurisdiction
    MIXED_SCRIPT = "mixed_script"  # a look-alike host name


class Requirement(StrictModel):
    id: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._:()/+-]*$",
                    description="the requirement's identifier, e.g. MASVS-PRIVACY-2 or 5.8-2")
    standard: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=1000)
    applies_to: list[Trigger] = Field(min_length=1, description="the findings it applies to")
    jurisdiction: CountryCode | None = Field(default=None, description="only for labs of this country")
    source: str | None = Field(default=None, max_length=500, description="where the requirement is published")


class RequirementsConfig(StrictModel):
    replace: bool = Field(default=False, description="true: only `rows`; false: the shipped table plus `rows`")
    rows: list[Requirement] = Field(default_factory=list)

    @field_validator("rows", mode="after")
    @classmethod
    def _unique(cls, value: list[Requirement]) -> list[Requirement]:
        twice = first_duplicate(r.id for r in value)
        if twice is not None:
            raise ValueError(f"requirement {twice} is listed twice")
        return value
