"""JSON Schemas of lab.yaml, profiles and campaign files, generated from the models, for editors.

yaml-language-server picks them up from the first line of a file:
`# yaml-language-server: $schema=schemas/profile.schema.json`. The committed copies in
`schemas/` are kept in sync by a test (`make schema` rewrites them).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.config.campaign import Campaign
from harness.config.lab import LabConfig, Profile
from harness.config.profile import STEP_KINDS
from harness.config.scenario_steps import MESSAGE_MAX
from harness.config.values import CountryCode
from harness.errors import ConfigError

DRAFT = "https://json-schema.org/draft/2020-12/schema"
FILES = {"lab": "lab.schema.json", "profile": "profile.schema.json", "campaign": "campaign.schema.json"}
SHORTHANDS = {
    "settings": {"const": "open"},
    "sim": {"enum": ["insert", "remove"]},
    "account": {"enum": ["sign-in", "sign-out"]},
    "prompt": {"type": "string", "minLength": 1, "maxLength": MESSAGE_MAX},
}


def _country_schema() -> dict[str, Any]:
    from pydantic import TypeAdapter

    return TypeAdapter(CountryCode).json_schema()


def _share_country(node: Any, country: dict[str, Any]) -> Any:
    """Replace each inlined copy of the country enum by a $ref to one definition."""
    if isinstance(node, dict) and node.get("enum") == country["enum"]:
        rest = {k: v for k, v in node.items() if k not in ("enum", "type")}
        if rest.get("description") == country["description"]:
            del rest["description"]
        return {"$ref": "#/$defs/CountryCode", **rest}
    if isinstance(node, dict):
        return {k: _share_country(v, country) for k, v in node.items()}
    if isinstance(node, list):
        return [_share_country(v, country) for v in node]
    return node


def _finish(schema: dict[str, Any], title: str, description: str) -> dict[str, Any]:
    country = _country_schema()
    schema = _share_country(schema, country)
    if "CountryCode" not in json.dumps(schema):
        return {"$schema": DRAFT, "title": title, "description": description, **schema}
    defs = dict(schema.get("$defs", {}))
    defs["CountryCode"] = country
    schema["$defs"] = dict(sorted(defs.items()))
    return {"$schema": DRAFT, "title": title, "description": description, **schema}


def _profile_steps(schema: dict[str, Any]) -> dict[str, Any]:
    """Steps: `- reboot` as a bare string, `- reboot:` with no value, one key per step."""
    defs = schema["$defs"]
    reboot = defs["RebootStep"]
    reboot["properties"]["reboot"] = {
        "anyOf": [{"$ref": "#/$defs/RebootArgs"}, {"type": "null"}],
        "description": "reboot and record boot-time traffic",
    }
    for kind in STEP_KINDS:
        model = defs[f"{kind.capitalize()}Step"]
        model["required"] = [kind]
    for kind, short in SHORTHANDS.items():  # `- sim: insert`, `- prompt: text`, `- settings: open`
        step = defs[f"{kind.capitalize()}Step"]["properties"]
        step[kind] = {"anyOf": [step[kind], short]}
    items = schema["properties"]["steps"]["items"]
    items["oneOf"] = [*items["oneOf"], {"const": "reboot"}]
    items["description"] = ("one step: a mapping with one key, " + ", ".join(STEP_KINDS)
                            + "; and optionally phase: NAME")
    return schema


def _campaign_handsets(schema: dict[str, Any]) -> dict[str, Any]:
    """A handset is its serial alone, or a mapping with its serial and label."""
    schema["properties"]["handsets"]["items"] = {"anyOf": [
        {"type": "string", "description": "the handset's serial (or virtual:<handset>)"},
        {"$ref": "#/$defs/CampaignHandset"},
    ]}
    return schema


def schemas() -> dict[str, dict[str, Any]]:
    """{'lab': <JSON Schema of lab.yaml>, 'profile': <JSON Schema of a profile>,
    'campaign': <JSON Schema of a campaign file>}."""
    lab = _finish(LabConfig.model_json_schema(), "lab.yaml",
                  "The lab: jurisdiction, policy, proxy, handsets, geolocation, canaries.")
    profile = _finish(_profile_steps(Profile.model_json_schema()), "Test profile",
                      "A device test profile: target apps, hook sets and ordered steps.")
    campaign = _finish(_campaign_handsets(Campaign.model_json_schema()), "Campaign",
                       "A campaign: handsets x profiles x repetitions, baseline pairs, the capture store.")
    return {"lab": lab, "profile": profile, "campaign": campaign}


def render(schema: dict[str, Any]) -> str:
    """The committed text form: stable key order, two-space indent, final newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_schemas(directory: Path | str) -> list[Path]:
    """Write lab.schema.json, profile.schema.json and campaign.schema.json into `directory`;
    return their paths."""
    directory = Path(directory)
    written = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for kind, schema in schemas().items():
            path = directory / FILES[kind]
            path.write_text(render(schema), encoding="utf-8")
            written.append(path)
    except OSError as e:
        raise ConfigError(f"{e.filename or directory}: cannot write: {e.strerror or e}") from e
    return written
