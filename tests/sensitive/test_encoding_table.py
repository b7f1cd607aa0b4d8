"""Every data type x every value encoding x every container and body structure the scanner
claims, each with the one finding it must give (type, id, where, each layer named once,
innermost first). The tables are in tests/support/sensitive_cases.py; each test runs one
container (or structure) over every row and lists every row that goes wrong."""

from __future__ import annotations

import pytest
from support.sensitive_cases import (
    CANARIES,
    COMPRESSED,
    CONTAINERS,
    JSON,
    LOCATION_TEXT,
    PATTERNS,
    STRUCTURES,
    VALUES,
    Container,
    Structure,
    chain,
    content_type,
    findings_of,
    value_encodings,
    where_of,
)

from harness.sensitive.scanner import Scanner, parse_canaries

ENCODED = [(value, case, text, named) for value in VALUES for case, text, named in value_encodings(value.text)]
SOME_ENCODINGS = ("plain", "base64url@1", "sha1-base64", "url")
# every structure in every container, declared and not, but for what is not claimed (an
# undeclared form: its %-escapes are read as sent)
FRAMED = [
    pytest.param(structure, container, typed,
                 id=f"{structure.name}-{container.name}-{'typed' if typed else 'untyped'}")
    for structure in STRUCTURES
    for container in CONTAINERS
    for typed in (True, False)
    if where_of(structure, container, typed) is not None
]


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner(parse_canaries(CANARIES))


def _wrong(scanner: Scanner, text: str, structure: Structure, container: Container, typed: bool,
           expected: set[tuple[str, str, str, str]]) -> tuple | None:
    """None if the scan of `text` framed and wrapped so finds exactly `expected`."""
    body = container.wrap(structure.build(text))
    if COMPRESSED & set(container.layers):  # the test's own premise: the value is coded, not stored
        assert text.encode() not in body
    result = scanner.scan_message(body=body, content_type=content_type(structure, container, typed),
                                  content_encoding=container.header)
    found = findings_of(result.findings)
    return None if found == expected else (text, sorted(found), sorted(expected))


@pytest.mark.parametrize("container", CONTAINERS, ids=lambda c: c.name)
def test_every_type_in_every_encoding_in_every_container(scanner: Scanner, container: Container) -> None:
    where = where_of(JSON, container, True)
    wrong = [
        (value.name, case, miss)
        for value, case, text, named in ENCODED
        if (miss := _wrong(scanner, text, JSON, container, True,
                           {(value.type, value.id, where, chain(named, *container.layers))}))
    ]
    assert wrong == []


@pytest.mark.parametrize(("structure", "container", "typed"), FRAMED)
def test_every_type_in_every_structure(scanner: Scanner, structure: Structure, container: Container,
                                       typed: bool) -> None:
    where = where_of(structure, container, typed)
    wrong = [
        (value.name, case, miss)
        for value, case, text, named in ENCODED
        if case in SOME_ENCODINGS
        if (miss := _wrong(scanner, text, structure, container, typed,
                           {(value.type, value.id, where, chain(named, *container.layers))}))
    ]
    assert wrong == []


@pytest.mark.parametrize("container", CONTAINERS, ids=lambda c: c.name)
def test_every_form_of_every_value(scanner: Scanner, container: Container) -> None:
    where = where_of(JSON, container, True)
    wrong = [
        (value.name, form, miss)
        for value in VALUES
        for form in value.forms
        if (miss := _wrong(scanner, form, JSON, container, True,
                           {(value.type, value.id, where, chain("plain", *container.layers))}))
    ]
    assert wrong == []


@pytest.mark.parametrize(("structure", "container", "typed"), FRAMED)
def test_identifiers_found_by_shape(scanner: Scanner, structure: Structure, container: Container,
                                    typed: bool) -> None:
    """Shapes are looked for in each decoded text as a whole, so `where` is the body (or
    the multipart part), not a field; the containers are named as for canaries."""
    where = "body:m" if structure.name == "multipart" and typed and container.walked else "body"
    wrong = [
        (kind, miss)
        for kind, text in PATTERNS
        if (miss := _wrong(scanner, text, structure, container, typed,
                           {(kind, f"pattern:{kind}", where, chain("plain", *container.layers))}))
    ]
    assert wrong == []


@pytest.mark.parametrize("container", CONTAINERS, ids=lambda c: c.name)
def test_a_planted_location(scanner: Scanner, container: Container) -> None:
    body = container.wrap(f"note v={LOCATION_TEXT}".encode())
    result = scanner.scan_message(body=body, content_type="text/plain", content_encoding=container.header)
    assert findings_of(result.findings) == {("location", "loc-1", "body", chain("plain", *container.layers))}


def test_every_type_in_every_encoding_in_a_header(scanner: Scanner) -> None:
    wrong = [
        (value.name, case, found)
        for value, case, text, named in ENCODED
        if (found := findings_of(scanner.scan_message(headers=[("X-Id", text)]).findings))
        != {(value.type, value.id, "header:x-id", named)}
    ]
    assert wrong == []
