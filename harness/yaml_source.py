"""YAML loading that remembers where every value came from (file, line, column).

`load_with_positions` returns plain Python data plus a map from key path to position,
so a validation error can say `profiles/x.yaml:12:5: steps[2].monkey.seed: ...`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Position:
    file: str
    line: int  # 1-based
    column: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class YamlDocument:
    data: Any
    positions: dict[PathKey, Position]
    file: str

    def position_of(self, path: PathKey) -> Position:
        """The position of `path`, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            pos = self.positions.get(tuple(path[:end]))
            if pos is not None:
                return pos
        return Position(self.file, 1, 1)


def _mark(file: str, node: yaml.Node) -> Position:
    return Position(file, node.start_mark.line + 1, node.start_mark.column + 1)


def _build(node: yaml.Node, path: PathKey, file: str, positions: dict[PathKey, Position]) -> Any:
    constructor = yaml.SafeLoader(" ")
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError(f"{_mark(file, key_node)}: {_fmt(path)}: keys must be plain scalars")
            key = constructor.construct_object(key_node)
            key = str(key) if not isinstance(key, str) else key
            if key in result:
                raise ConfigError(f"{_mark(file, key_node)}: {_fmt(path + (key,))}: duplicate key")
            positions[path + (key,)] = _mark(file, key_node)
            result[key] = _build(value_node, path + (key,), file, positions)
        return result
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            positions[path + (index,)] = _mark(file, item)
            items.append(_build(item, path + (index,), file, positions))
        return items
    return constructor.construct_object(node)


def _fmt(path: PathKey) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


format_path = _fmt


def load_with_positions(path: Path | str) -> YamlDocument:
    """Parse one YAML file; syntax errors become ConfigError with file:line:column."""
    path = Path(path)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ConfigError(f"{name}: no such file") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{name}: cannot read: {e}") from e
    return parse_with_positions(text, name)


def parse_with_positions(text: str, name: str) -> YamlDocument:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        raise ConfigError(f"{where}: YAML syntax error: {e.problem or e}") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"{name}: YAML error: {e}") from e
    positions: dict[PathKey, Position] = {}
    if node is None:
        return YamlDocument({}, {(): Position(name, 1, 1)}, name)
    positions[()] = _mark(name, node)
    return YamlDocument(_build(node, (), name, positions), positions, name)
