"""Validated, quoted shell strings for the handset.

Profiles, lab.yaml and captures are untrusted input. Every value that reaches a handset
shell passes one of the `check_*` functions here (raising UnsafeValueError before any adb
call) and is then quoted with shlex.quote by `join`. Constants written in this package are
the only unvalidated words, and they are wrapped in `Word` so a caller cannot pass a raw
string by accident. The checks match the whole value (fullmatch; a pattern's `$` alone
would let a final newline through).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from harness.config.lab import check_package as _config_check_package
from harness.errors import UnsafeValueError

_PERMISSION = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$")
_ACTIVITY = re.compile(r"^\.?[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_$]*)*$")
_PATH = re.compile(r"^/[A-Za-z0-9._+@/-]{0,1023}$")
_KEYEVENT = re.compile(r"^(KEYCODE_[A-Z0-9_]+|[A-Z0-9_]+|\d{1,3})$")
_TEXT = re.compile(r"^[\x20-\x7e]{0,512}$")
_CANARY = re.compile(r"^[A-Za-z0-9 ._+@-]{1,128}$")
_ACTION = re.compile(r"^[A-Za-z][A-Za-z0-9_.]*$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[\x21-\x7e]{0,2000}$")
_ADB_SOCKET = re.compile(r"^tcp:\d{1,5}$")
_ACCOUNT_NAME = re.compile(r"^[A-Za-z0-9._+@-]{1,128}$")
_ACCOUNT_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$")


@dataclass(frozen=True)
class Word:
    """A word written in this package's source (a constant), trusted as is."""

    text: str


Arg = Word | str | int


def _unsafe(kind: str, value: object) -> UnsafeValueError:
    return UnsafeValueError(f"refusing unsafe {kind} {value!r}: it would reach a handset shell")


def check_package(value: object) -> str:
    try:
        return _config_check_package(value)  # type: ignore[arg-type]
    except ValueError:
        raise _unsafe("package name", value) from None


def check_permission(value: object) -> str:
    if not isinstance(value, str) or len(value) > 255 or not _PERMISSION.fullmatch(value):
        raise _unsafe("permission name", value)
    return value


def check_activity(value: object) -> str:
    if not isinstance(value, str) or len(value) > 255 or not _ACTIVITY.fullmatch(value):
        raise _unsafe("activity name", value)
    return value


def check_path(value: object) -> str:
    """An absolute handset path of safe characters, with no `..` component."""
    if not isinstance(value, str) or not _PATH.fullmatch(value):
        raise _unsafe("path", value)
    if any(part == ".." for part in value.split("/")):
        raise _unsafe("path", value)
    return value


def check_keyevent(value: object) -> str:
    value = str(value)
    if not _KEYEVENT.fullmatch(value):
        raise _unsafe("key event", value)
    return value


def check_text(value: object) -> str:
    if not isinstance(value, str) or not _TEXT.fullmatch(value):
        raise _unsafe("input text (printable ASCII, at most 512 characters)", value)
    return value


def check_canary(value: object) -> str:
    if not isinstance(value, str) or not _CANARY.fullmatch(value):
        raise _unsafe("canary value", value)
    return value


def check_action(value: object) -> str:
    if not isinstance(value, str) or len(value) > 255 or not _ACTION.fullmatch(value):
        raise _unsafe("intent action", value)
    return value


def check_uri(value: object) -> str:
    if not isinstance(value, str) or not _URI.fullmatch(value):
        raise _unsafe("URI", value)
    return value


def check_account_name(value: object) -> str:
    """An account name like lab.tester@example.com (letters, digits and . _ + @ -)."""
    if not isinstance(value, str) or not _ACCOUNT_NAME.fullmatch(value):
        raise _unsafe("account name", value)
    return value


def check_account_type(value: object) -> str:
    """An account type like com.google."""
    if not isinstance(value, str) or len(value) > 255 or not _ACCOUNT_TYPE.fullmatch(value):
        raise _unsafe("account type", value)
    return value


def check_port(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise _unsafe("port", value)
    return value


def check_adb_socket(value: object) -> str:
    """`tcp:PORT` as used by adb reverse/forward."""
    if not isinstance(value, str) or not _ADB_SOCKET.fullmatch(value):
        raise _unsafe("adb socket spec", value)
    check_port(int(value[4:]))
    return value


def check_int(value: object, low: int = -(2**63), high: int = 2**63 - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _unsafe("number", value)
    return value


def input_text_args(text: str) -> list[str]:
    """The arguments of the `input text` calls that type `text` exactly, validated; each
    goes to the handset as one single-quoted word (`join`), so the device shell hands it
    to `input` unchanged: no backslash escaping belongs in it (adbutils' escaping is for
    an unquoted line, and inside quotes a phone types the backslashes).

    Android's `input text` (AOSP InputShellCommand.sendText; Input.java before Android 12)
    reads one argument, the word after `text` (further words are ignored), and decodes
    only `%s`, to a space. Spaces are sent as `%s`, the form every release decodes, so the
    argument holds no space for any shell layer to split at. A literal `%s` cannot be
    written in one argument: the text is split there (`50%sale` -> `50%`, then `sale`).
    """
    pieces = check_text(text).split("%s")
    last = len(pieces) - 1
    return [("s" if i else "") + piece.replace(" ", "%s") + ("%" if i < last else "")
            for i, piece in enumerate(pieces)]


def join(args: list[Arg] | tuple[Arg, ...]) -> str:
    """One shell command line: constants as written, every other value quoted.

    A plain `str` must already have passed a `check_*` function; it is quoted here
    regardless, so even a value that slipped past validation stays one word.
    """
    words = []
    for arg in args:
        if isinstance(arg, Word):
            words.append(arg.text)
        elif isinstance(arg, bool):
            raise TypeError("booleans are not shell arguments")
        elif isinstance(arg, int):
            words.append(str(arg))
        elif isinstance(arg, str):
            if "\x00" in arg or "\n" in arg or "\r" in arg:
                raise _unsafe("argument", arg)
            words.append(shlex.quote(arg))
        else:
            raise TypeError(f"not a shell argument: {arg!r}")
    return " ".join(words)


def cmd(*args: Arg) -> str:
    """`cmd(W("pm"), W("grant"), check_package(p), check_permission(x))` -> quoted line."""
    return join(args)


def W(text: str) -> Word:  # noqa: N802 - short on purpose: it marks constants in commands
    return Word(text)


def commands(*lines: str) -> str:
    """Join already-built command lines with `;` (each built by `cmd`)."""
    return "; ".join(lines)
