"""YAML loading that remembers where every value came from (file, line, column).

`load_with_positions` returns plain Python data plus maps from key path to position, so
a validation error can say `profiles/x.yaml:12:5: steps[2].monkey.seed: ...`.

Hostile files get a clear error, never a hang: the file size, nesting depth and number of
values built (aliases included, so a "billion laughs" file stops early) are capped;
recursive aliases, duplicate keys, non-scalar keys, unknown tags and tab indentation are
refused. Merge keys (`<<: *defaults`) work.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError

PathKey = tuple[str | int, ...]

MAX_FILE_BYTES = 1024 * 1024
MAX_NODES = 50_000
MAX_DEPTH = 64

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class Position:
    file: str
    line: int  # 1-based
    column: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class ConfigProblem:
    """One error in a config file: where, which key path, what is wrong."""

    file: str
    line: int | None
    column: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "column": self.column,
                "path": self.path, "message": self.message}


class ConfigProblems(ConfigError):
    """A config file has one or more problems; `str()` is one line per problem."""

    def __init__(self, problems: list[ConfigProblem] | tuple[ConfigProblem, ...]):
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def _problem(pos: Position | None, file: str, path: PathKey | None, message: str) -> ConfigProblems:
    return ConfigProblems([ConfigProblem(
        file, pos.line if pos else None, pos.column if pos else None,
        format_path(path) if path is not None else "", message,
    )])


@dataclass(frozen=True)
class YamlDocument:
    """Parsed data (None for an empty file) and where each key and value starts."""

    data: Any
    positions: dict[PathKey, Position]  # key path -> position of the key (or list item)
    file: str
    value_positions: dict[PathKey, Position] | None = None  # key path -> position of the value

    def position_of(self, path: PathKey) -> Position:
        """The position of `path`'s key, or of its nearest ancestor that has one."""
        return self._nearest(self.positions, path)

    def value_position_of(self, path: PathKey) -> Position:
        """The position of `path`'s value, or of its nearest ancestor's."""
        return self._nearest(self.value_positions or self.positions, path)

    def _nearest(self, table: dict[PathKey, Position], path: PathKey) -> Position:
        for end in range(len(path), -1, -1):
            pos = table.get(tuple(path[:end]))
            if pos is not None:
                return pos
        return Position(self.file, 1, 1)


def _mark(file: str, node: yaml.Node) -> Position:
    return Position(file, node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    """Turns a composed node graph into Python data, recording positions, within limits."""

    def __init__(self, file: str):
        self.file = file
        self.constructor = yaml.SafeLoader("")
        self.keys: dict[PathKey, Position] = {}
        self.values: dict[PathKey, Position] = {}
        self.nodes = 0
        self.active: set[int] = set()

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _problem(_mark(self.file, node), self.file, path,
                           f"more than {MAX_NODES} values (aliases expanding without bound?)")
        if len(path) > MAX_DEPTH:
            raise _problem(_mark(self.file, node), self.file, path,
                           f"nested more than {MAX_DEPTH} levels deep")
        if id(node) in self.active:
            raise _problem(_mark(self.file, node), self.file, path, "recursive alias")
        self.values.setdefault(path, _mark(self.file, node))
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                self._expect_tag(node, _MAP_TAG, path)
                return self._mapping(node, path)
            self._expect_tag(node, _SEQ_TAG, path)
            items = []
            for index, item in enumerate(node.value):
                self.keys[path + (index,)] = _mark(self.file, item)
                items.append(self.build(item, path + (index,)))
            return items
        finally:
            self.active.discard(id(node))

    def _scalar(self, node: yaml.ScalarNode, path: PathKey) -> Any:
        """One scalar as PyYAML reads it; what it cannot build is a problem at the scalar.

        PyYAML raises ValueError (not a YAMLError) for values its resolver takes for a date
        or timestamp but that are none (`2024-13-45`, `2024-02-30 25:61:61`) and for
        integers past Python's digit limit (a 5,000-digit number).
        """
        try:
            return self.constructor.construct_object(node)
        except yaml.YAMLError as e:
            raise _problem(_mark(self.file, node), self.file, path, _reason(e)) from e
        except (ValueError, OverflowError) as e:
            raise _problem(_mark(self.file, node), self.file, path, _unbuildable(node, e)) from e

    def _expect_tag(self, node: yaml.Node, tag: str, path: PathKey) -> None:
        if node.tag != tag:
            raise _problem(_mark(self.file, node), self.file, path, f"unsupported YAML tag {node.tag}")

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        merged: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.update(self._merge_source(value_node, path))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise _problem(_mark(self.file, key_node), self.file, path,
                               "keys must be plain scalars, not lists or mappings")
            key = self._scalar(key_node, path)
            key = key if isinstance(key, str) else str(key_node.value)
            if key in result:
                first = self.keys[path + (key,)]
                raise _problem(_mark(self.file, key_node), self.file, path + (key,),
                               f"duplicate key (first at line {first.line})")
            self.keys[path + (key,)] = _mark(self.file, key_node)
            result[key] = self.build(value_node, path + (key,))
        for key, value in merged.items():
            result.setdefault(key, value)
        return result

    def _merge_source(self, node: yaml.Node, path: PathKey) -> dict[Any, Any]:
        """`<<: *a` or `<<: [*a, *b]` (earlier mappings win, as in YAML's merge spec)."""
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        out: dict[Any, Any] = {}
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                raise _problem(_mark(self.file, source), self.file, path,
                               "<< merges mappings only")
            built = self.build(source, path)
            for key, value in built.items():
                out.setdefault(key, value)
        return out


def _reason(error: yaml.YAMLError) -> str:
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return str(problem)


_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_INT_TAG = "tag:yaml.org,2002:int"


def _unbuildable(node: yaml.ScalarNode, error: ValueError | OverflowError) -> str:
    """Why a scalar PyYAML resolved (date, timestamp, integer) could not be built."""
    shown = node.value if len(node.value) <= 40 else node.value[:37] + "..."
    if node.tag == _TIMESTAMP_TAG:
        return f"{shown!r} reads as a date or timestamp but is none ({error}); quote it to keep it as text"
    if node.tag == _INT_TAG:
        return f"integer {shown!r} has {len(node.value)} characters: too large; quote it to keep it as text"
    return f"{shown!r} cannot be read as {node.tag.rsplit(':', 1)[-1]} ({error})"


def format_path(path: PathKey) -> str:
    """('steps', 2, 'monkey', 'seed') -> 'steps[2].monkey.seed'; () -> '(top level)'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


_fmt = format_path


def load_with_positions(path: Path | str) -> YamlDocument:
    """Parse one YAML file; every problem becomes ConfigProblems naming file:line:column."""
    path = Path(path)
    name = str(path)
    try:
        if path.is_dir():
            raise _problem(None, name, None, "is a folder, not a YAML file")
        with path.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError as e:
        raise _problem(None, name, None, "no such file") from e
    except OSError as e:
        raise _problem(None, name, None, f"cannot read: {e.strerror or e}") from e
    if len(raw) > MAX_FILE_BYTES:
        raise _problem(None, name, None, f"larger than {MAX_FILE_BYTES // 1024} KiB; not a config file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise _problem(None, name, None, f"not UTF-8 text (byte {e.start})") from e
    return parse_with_positions(text, name)


def parse_with_positions(text: str, name: str) -> YamlDocument:
    """Parse YAML text; `data` is None when the document is empty (or only comments)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        pos = Position(name, mark.line + 1, mark.column + 1) if mark else None
        problem = str(e.problem or e)
        if "'\\t'" in problem:
            problem = "a tab character where YAML needs spaces: indent with spaces, not tabs"
        elif "expected a single document" in str(e.context or ""):
            problem = "more than one YAML document (---) in one file"
        raise _problem(pos, name, None, f"YAML syntax error: {problem}") from e
    except yaml.YAMLError as e:
        raise _problem(None, name, None, f"YAML error: {e}") from e
    except RecursionError as e:
        raise _problem(None, name, None, "YAML nested too deeply") from e
    if node is None:
        return YamlDocument(None, {(): Position(name, 1, 1)}, name, {(): Position(name, 1, 1)})
    builder = _Builder(name)
    builder.keys[()] = _mark(name, node)
    data = builder.build(node, ())
    return YamlDocument(data, builder.keys, name, builder.values)
