"""Internationalised hostnames as a report shows them: the Unicode form a person reads,
its ASCII (punycode) form beside it, and whether its letters mix scripts.

`аррӏе.com` is five Cyrillic letters that look like `apple`; its ASCII form
`xn--80ak6aa92e.com` tells them apart. A host is *mixed-script* when its letters come
from more than one script, taken over all its labels (so a Cyrillic name under `.com`
counts), except the combinations Unicode's UTS #39 "highly restrictive" level allows:
Latin with Han, Hiragana and Katakana (Japanese), with Han and Bopomofo (Chinese), or
with Han and Hangul (Korean). The script of a letter is the first word of its Unicode
name (`CYRILLIC SMALL LETTER A`), close enough to the Script property for this test.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from encodings import idna

import numpy as np
import pandas as pd

from harness.config import Flag
from harness.names import is_ip

MIXED_SCRIPT = Flag.MIXED_SCRIPT.value
ACE_PREFIX = "xn--"
_DOTS = re.compile("[.\u3002\uff0e\uff61]")  # the full stops IDNA reads as label separators
_ALLOWED_MIXES = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
_WIDTH_PREFIXES = ("FULLWIDTH", "HALFWIDTH")
_SCRIPT_ALIASES = {"CJK": "HAN", "IDEOGRAPHIC": "HAN"}


def _unicode_label(label: str) -> str:
    if not label.startswith(ACE_PREFIX):
        return label
    try:
        return idna.ToUnicode(label)
    except UnicodeError:  # not valid punycode: shown as it came
        return label


def _ascii_label(label: str) -> str:
    if label.isascii():
        return label
    try:
        return idna.ToASCII(label).decode("ascii")
    except UnicodeError:  # nameprep refuses it (a control character, say): plain punycode
        return ACE_PREFIX + label.encode("punycode").decode("ascii")


@functools.lru_cache(maxsize=65536)
def host_forms(host: str) -> tuple[str, str]:
    """(Unicode form, ASCII form) of a hostname; an IP literal or plain ASCII name is both."""
    if not host or is_ip(host):
        return host, host
    labels = _DOTS.split(host)
    unicode_form = ".".join(_unicode_label(label) for label in labels)
    ascii_form = ".".join(_ascii_label(label) for label in _DOTS.split(unicode_form))
    return unicode_form, ascii_form


def _script(char: str) -> str | None:
    if unicodedata.category(char) not in ("Lu", "Ll", "Lt", "Lo"):
        return None  # digits, hyphens, marks, modifier letters (Japanese `ー`): common
    words = unicodedata.name(char, "").split()
    if len(words) > 1 and words[0] in _WIDTH_PREFIXES:
        words = words[1:]
    if not words:
        return None
    return _SCRIPT_ALIASES.get(words[0], words[0])


def scripts_of(host: str) -> frozenset[str]:
    """The scripts of a host's letters (its Unicode form's)."""
    return frozenset(s for s in map(_script, host_forms(host)[0]) if s is not None)


def is_mixed_script(host: str) -> bool:
    scripts = scripts_of(host)
    return len(scripts) > 1 and not any(scripts <= allowed for allowed in _ALLOWED_MIXES)


def idn_columns(hosts: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """For a column of hosts: their Unicode forms, their ASCII forms where those differ
    (else ""), and whether each mixes scripts. Computed once per distinct host."""
    codes, unique = pd.factorize(hosts.astype(object))  # -1: missing
    forms = [host_forms(str(h)) for h in unique]
    uni = np.array([u for u, _ in forms] + [None], dtype=object)
    ace = np.array([a if a != u else "" for u, a in forms] + [""], dtype=object)
    mixed = np.array([is_mixed_script(str(h)) for h in unique] + [False], dtype=bool)
    index = hosts.index
    return (pd.Series(uni[codes], index=index, dtype=object), pd.Series(ace[codes], index=index, dtype=object),
            pd.Series(mixed[codes], index=index, dtype=bool))


def add_flag(flags: pd.Series, where: pd.Series, flag: str) -> pd.Series:
    """`flags` (comma-joined) with `flag` appended on the rows of `where` lacking it."""
    out = flags.astype(object).where(flags.notna(), "")
    rows = where.to_numpy(dtype=bool)
    if not rows.any():
        return out
    text = out[rows].astype(str)
    has = text.str.contains(rf"(?:^|,){re.escape(flag)}(?:,|$)", regex=True)
    out[rows] = np.where(has, text, np.where(text == "", flag, text + "," + flag))
    return out
