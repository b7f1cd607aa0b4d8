"""The state mitmproxy saves for a client or server connection, computed quickly.

`Connection.get_state()` (mitmproxy's SerializableDataclass) walks every field's type
hints on every call (typing.get_origin, get_args, hasattr per field) and turns each
certificate into PEM again. Here the same walk is done once per class and compiled into
one converter per field, and certificates' PEM is kept while they are in use, so a
connection's state costs a fraction of that. Same result as `get_state()`, checked in
the tests; a value the converters cannot take goes to `get_state()` for its error.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import typing
from collections import OrderedDict
from collections.abc import Callable
from types import NoneType, UnionType
from typing import Any

from mitmproxy import certs, connection

Converter = Callable[[Any], Any]
_ADDRESS_TYPES = (str, int, int, int)  # mitmproxy's own rule for peername / sockname


class ConnectionStates:
    """`state(conn)` == `conn.get_state()`, with compiled converters and a PEM cache."""

    def __init__(self, certificates: int = 256):
        self._plans: dict[type, tuple[tuple[str, Converter], ...]] = {}
        self._pems: OrderedDict[int, tuple[certs.Cert, bytes]] = OrderedDict()
        self._pem_size = certificates

    def state(self, conn: connection.Connection) -> dict[str, Any]:
        plan = self._plan(conn)
        try:
            return {name: convert(getattr(conn, name)) for name, convert in plan}
        except (TypeError, ValueError, AttributeError):
            return conn.get_state()  # an invalid value: mitmproxy's own walk says what is wrong

    def signature(self, conn: connection.Connection) -> tuple[Any, ...]:
        """Every saved field's value (lists copied): equal signatures, equal states."""
        values = [getattr(conn, name) for name, _ in self._plan(conn)]
        return (type(conn), *[tuple(v) if type(v) is list else v for v in values])

    def _plan(self, conn: connection.Connection) -> tuple[tuple[str, Converter], ...]:
        plan = self._plans.get(type(conn))
        if plan is None:
            plan = self._plans[type(conn)] = self._compile_class(type(conn))
        return plan

    def _pem(self, cert: certs.Cert) -> bytes:
        cached = self._pems.get(id(cert))
        if cached is not None and cached[0] is cert:
            return cached[1]
        pem = cert.get_state()
        self._pems[id(cert)] = (cert, pem)  # the cert is kept, so its id is not reused meanwhile
        if len(self._pems) > self._pem_size:
            self._pems.popitem(last=False)
        return pem

    def _compile_class(self, cls: type) -> tuple[tuple[str, Converter], ...]:
        hints = typing.get_type_hints(cls)
        return tuple(
            (field.name, self._compile(hints[field.name], field.name))
            for field in dataclasses.fields(cls)
            if field.metadata.get("serialize", True) is not False
        )

    def _compile(self, attr_type: Any, attr_name: str) -> Converter:  # noqa: PLR0911 - one case per kind
        """The converter for one field: mitmproxy's `_process(make=False)`, decided once."""
        origin = typing.get_origin(attr_type)
        if origin is typing.Literal:
            return _literal(frozenset(typing.get_args(attr_type)), attr_name)
        if origin in (UnionType, typing.Union):
            inner_type, none_type = typing.get_args(attr_type)
            if none_type is not NoneType:
                raise TypeError(f"{attr_name}: only `x | None` unions are supported")
            inner = self._compile(inner_type, attr_name)
            return lambda value: None if value is None else inner(value)
        if attr_type is certs.Cert:
            return _not_none(self._pem)
        if hasattr(attr_type, "get_state"):
            return _not_none(lambda value: value.get_state())
        if origin in (list, collections.abc.Sequence):
            (item_type,) = typing.get_args(attr_type)
            item = self._compile(item_type, attr_name)
            return _not_none(lambda value: [item(x) for x in value])
        if origin is tuple:
            if attr_name in ("peername", "sockname"):
                parts = [self._compile(t, attr_name) for t in _ADDRESS_TYPES]
                return _not_none(lambda value: tuple(c(x) for x, c in zip(value, parts)))  # noqa: B905
            parts = [self._compile(t, attr_name) for t in typing.get_args(attr_type)]
            return _not_none(lambda value: tuple(c(x) for c, x in zip(parts, value, strict=True)))
        if origin is dict:
            key_type, value_type = typing.get_args(attr_type)
            key, val = self._compile(key_type, attr_name), self._compile(value_type, attr_name)
            return _not_none(lambda value: {key(k): val(v) for k, v in value.items()})
        if attr_type in (int, float):
            return _checked((int, float), attr_type)
        if attr_type in (str, bytes, bool):
            return _checked(attr_type, attr_type)
        if isinstance(attr_type, type) and issubclass(attr_type, enum.Enum):
            return _not_none(lambda value: value.value)
        raise TypeError(f"Unexpected type for {attr_name}: {attr_type!r}")


def _literal(allowed: frozenset[Any], name: str) -> Converter:
    def check(value: Any) -> Any:
        if value not in allowed:
            raise ValueError(f"Invalid value for {name}: {value!r}")
        return value

    return check


def _not_none(convert: Converter) -> Converter:
    def checked(value: Any) -> Any:
        if value is None:
            raise ValueError("must not be None")
        return convert(value)

    return checked


def _checked(accepted: type | tuple[type, ...], make: type) -> Converter:
    def convert(value: Any) -> Any:
        if not isinstance(value, accepted):
            raise ValueError(f"expected {make.__name__}, got {type(value).__name__}")
        return make(value)

    return convert
