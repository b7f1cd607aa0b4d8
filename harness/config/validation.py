"""Validation errors of lab.yaml and profiles, mapped back to where they stand in the file.

pydantic reports a location as its own path through the models (with validator wrappers
and union tags in it); this module turns each error into a ConfigProblem: file, line,
column, the key path as the user wrote it, and a message (unknown keys get "did you
mean" and the list of known keys of the mapping they appear in).
"""

from __future__ import annotations

from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, Tag, ValidationError

from harness.config.profile import STEP_KINDS
from harness.config.values import did_you_mean
from harness.config.yaml_source import ConfigProblem, ConfigProblems, YamlDocument, format_path

_RAW_PARTS = {"function-after", "function-before", "function-plain", "function-wrap"}


def _clean_loc(raw: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's internal parts: validator wrappers and union tags (`steps.0.wait.wait`,
    `steps.0.wait.phase`: the step's tag comes between its index and its own key)."""
    parts = [part for part in raw if not _is_tag(part)]
    loc: list[Any] = []
    for i, part in enumerate(parts):
        is_step_tag = (i >= 2 and isinstance(parts[i - 1], int) and parts[i - 2] == "steps"
                       and part in STEP_KINDS and i + 1 < len(parts))
        if not is_step_tag:
            loc.append(part)
    return tuple(loc)


def _is_tag(part: Any) -> bool:
    return isinstance(part, str) and (
        part in _RAW_PARTS or part.startswith(("function-", "tagged-union")) or part == "[key]"
    )


def _model_at(root: type[BaseModel], raw_loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that validated the mapping at `raw_loc` (pydantic's own loc)."""
    current: Any = root
    for part in raw_loc:
        if _is_tag(part):
            continue
        current = _step_into(current, part)
        if current is None:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    if get_origin(tp) in (Union, UnionType):
        members = [a for a in get_args(tp) if a is not type(None)]
        if len(members) == 1:
            return _unwrap(members[0])
    return tp


def _step_into(tp: Any, part: Any) -> Any:
    tagged = tp
    while get_origin(tagged) is Annotated:
        tagged = get_args(tagged)[0]
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = tp.model_fields.get(part) if isinstance(part, str) else None
        return field.annotation if field else None
    origin, args = get_origin(tp), get_args(tp)
    if origin in (list, tuple) and isinstance(part, int) and args:
        return args[0]
    if origin is dict and args:
        return args[1]
    if origin in (Union, UnionType):  # a tagged union: the loc names the member's tag
        for member in get_args(tagged):
            meta = get_args(member)[1:] if get_origin(member) is Annotated else ()
            if any(isinstance(m, Tag) and m.tag == part for m in meta):
                return get_args(member)[0]
    return None


def _problems(root: type[BaseModel], doc: YamlDocument, error: ValidationError) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    for err in error.errors(include_url=False):
        loc = _clean_loc(err["loc"])
        ctx = err.get("ctx") or {}
        message = err["msg"]
        if message.startswith(("Value error, ", "Assertion failed, ")):
            message = message.split(", ", 1)[1]
        if err["type"] == "extra_forbidden":
            model = _model_at(root, err["loc"][:-1])
            known = model.known_keys() if model else []
            key = str(loc[-1])
            message = f"unknown key '{key}'{did_you_mean(key, known)}"
            if known:
                message += f"; known keys: {', '.join(known)}"
            pos = doc.position_of(loc)
        elif err["type"] == "unknown_key":  # an unknown step kind or severity flag
            loc = loc + (ctx["key"],)
            pos = doc.position_of(loc)
        elif err["type"] == "missing" and loc and isinstance(loc[-1], int):
            pos = doc.value_position_of(loc[:-1])
            message = f"too few items: item [{loc[-1]}] is missing"
            loc = loc[:-1]
        elif err["type"] == "missing" and loc:
            pos = doc.value_position_of(loc[:-1])
            message = f"missing required key '{loc[-1]}'"
        else:
            pos = doc.value_position_of(loc)
        problems.append(ConfigProblem(pos.file, pos.line, pos.column, format_path(loc), message))
    return problems


_EXPECTED = {
    "LabConfig": "a lab file: a mapping with keys like name, jurisdiction, policy, proxy, devices",
    "Profile": "a profile: a mapping with keys like name, description, apps, hooks, steps",
    "Campaign": "a campaign: a mapping with keys like name, profiles, handsets, repetitions, store",
}


def validate_model(model: type[BaseModel], doc: YamlDocument) -> Any:
    """Validate a parsed YAML document; every problem names file:line:column and key path."""
    expected = _EXPECTED.get(model.__name__, "a mapping of keys")
    if doc.data is None:
        raise ConfigProblems([ConfigProblem(doc.file, 1, 1, "", f"the file is empty; expected {expected}")])
    if not isinstance(doc.data, dict):
        pos = doc.value_position_of(())
        got = type(doc.data).__name__.replace("str", "text").replace("list", "a list")
        raise ConfigProblems([ConfigProblem(pos.file, pos.line, pos.column, "(top level)",
                                            f"expected {expected}; got {got}")])
    try:
        return model.model_validate(doc.data)
    except ValidationError as e:
        raise ConfigProblems(_problems(model, doc, e)) from e
