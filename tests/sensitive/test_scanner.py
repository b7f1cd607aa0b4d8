"""harness.sensitive.scanner: needles in every encoding, decoded bodies, patterns, findings."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import zlib
from urllib.parse import quote

import brotli
import pytest
import zstandard

from harness.errors import CaptureError
from harness.sensitive.scanner import Scanner, encoding_chain, luhn_ok, parse_canaries

IMEI = "490154203237518"
CANARIES = {
    "identifiers": {
        "imei": IMEI,
        "imsi": "404450123456789",
        "wifi_mac": "02:1a:11:f0:c3:9e",
        "android_id": "9774d56d682e549c",
        "advertising_id": "38400000-8cf0-11bd-b23e-10b96e40000d",
        "phone": "+919876543210",
    },
    "planted": [
        {"type": "contact", "id": "contact-1", "value": "CANARYc0ntact7Q", "phone": "+919811122233"},
        {"type": "sms", "id": "sms-1", "value": "CANARY sms body 42xq"},
        {"type": "clipboard", "id": "clip-1", "value": "CANARY~~~>>>???clip"},
        {"type": "location", "id": "loc-1", "lat": 28.6139, "lon": 77.2090},
    ],
}


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner(parse_canaries(CANARIES))


def _ids(result) -> set[tuple[str, str, str]]:
    return {(f.id, f.where, f.encoding) for f in result.findings}


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"http://x.example/a?imei={IMEI}", ("imei", "url", "plain")),
        (f"http://x.example/a?h={_sha256(IMEI)}", ("imei", "url", "sha256")),
        (f"http://x.example/a?h={_sha256(IMEI).upper()}", ("imei", "url", "sha256")),
        (f"http://x.example/a?h={hashlib.md5(IMEI.encode()).hexdigest()}", ("imei", "url", "md5")),
        (f"http://x.example/a?h={hashlib.sha1(IMEI.encode()).hexdigest()}", ("imei", "url", "sha1")),
        (f"http://x.example/a?m={quote('02:1a:11:f0:c3:9e', safe='')}", ("wifi_mac", "url", "url")),
        ("http://x.example/a?m=021A11F0C39E", ("wifi_mac", "url", "plain")),
        (f"http://x.example/a?hex={IMEI.encode().hex()}", ("imei", "url", "hex")),
        (f"http://x.example/a?HEX={IMEI.encode().hex().upper()}", ("imei", "url", "hex")),
        ("http://x.example/a?p=9876543210", ("phone", "url", "plain")),
    ],
)
def test_url_encodings(scanner: Scanner, url: str, expected: tuple[str, str, str]) -> None:
    assert expected in _ids(scanner.scan_message(url=url))


@pytest.mark.parametrize("prefix", [b"", b"x", b"xy", b"xyz", b"abcd"])
def test_base64_all_alignments(scanner: Scanner, prefix: bytes) -> None:
    blob = base64.b64encode(prefix + IMEI.encode() + b"|trailer").decode()
    result = scanner.scan_message(headers=[("X-Token", "t=" + blob)])
    assert ("imei", "header:x-token", "base64") in _ids(result)


def test_planted_imei_as_sha256_in_gzip_json(scanner: Scanner) -> None:
    body = gzip.compress(json.dumps({"device": {"h": _sha256(IMEI)}, "v": 1}).encode())
    result = scanner.scan_message(body=body, content_type="application/json", content_encoding="gzip")
    assert ("imei", "body:$.device.h", "sha256+gzip") in _ids(result)


def test_contacts_gzip_then_base64(scanner: Scanner) -> None:
    contacts = json.dumps([{"name": "CANARYc0ntact7Q", "phone": "+919811122233"}]).encode()
    body = json.dumps({"payload": base64.b64encode(gzip.compress(contacts)).decode()}).encode()
    found = _ids(scanner.scan_message(body=body, content_type="application/json"))
    assert ("contact-1", "body:$.payload", "gzip+base64") in found


def test_whole_body_base64_of_gzip(scanner: Scanner) -> None:
    body = base64.b64encode(gzip.compress(b"contacts: CANARYc0ntact7Q"))
    found = _ids(scanner.scan_message(body=body, content_type="text/plain"))
    assert ("contact-1", "body", "gzip+base64") in found


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("br", brotli.compress),
        ("zstd", zstandard.ZstdCompressor().compress),
    ],
)
def test_content_encodings(scanner: Scanner, encoding: str, compress) -> None:
    body = compress(b"sms=CANARY sms body 42xq")
    found = _ids(scanner.scan_message(body=body, content_encoding=encoding))
    assert ("sms-1", "body", encoding) in found


def test_form_and_cookie_and_multipart(scanner: Scanner) -> None:
    form = scanner.scan_message(body=f"a=1&imei={IMEI}".encode(), content_type="application/x-www-form-urlencoded")
    assert ("imei", "body:imei", "plain") in _ids(form)
    cookie = scanner.scan_message(headers=[("Cookie", f"sid=abc; dev={IMEI}")])
    assert ("imei", "cookie:dev", "plain") in _ids(cookie)
    multipart = (
        b"--XX\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n"
        + json.dumps({"aid": "9774d56d682e549c"}).encode()
        + b"\r\n--XX--\r\n"
    )
    found = _ids(scanner.scan_message(body=multipart, content_type="multipart/form-data; boundary=XX"))
    assert ("android_id", "body:meta:$.aid", "plain") in found


def _pb_field(number: int, value: bytes) -> bytes:
    return bytes([number << 3 | 2, len(value)]) + value


def test_protobuf_strings(scanner: Scanner) -> None:
    inner = _pb_field(3, IMEI.encode())
    body = _pb_field(1, b"hello") + _pb_field(2, inner)
    found = _ids(scanner.scan_message(body=body, content_type="application/x-protobuf"))
    assert ("imei", "body:pb.2.3", "plain") in found


@pytest.mark.parametrize(
    ("body", "ctype", "cenc", "note"),
    [
        (b"\x1f\x8b\x08garbage", "application/json", "gzip", "did not decode"),
        (b"\x0a\x50short", "application/x-protobuf", None, "protobuf"),
        (b"{\"a\": \"\xff\xfe\"}", "application/json", None, "JSON"),
    ],
)
def test_garbage_bodies_give_notes_not_errors(scanner: Scanner, body: bytes, ctype: str, cenc, note: str) -> None:
    result = scanner.scan_message(body=body, content_type=ctype, content_encoding=cenc)
    assert any(note in n for n in result.notes), result.notes


@pytest.mark.parametrize(
    ("body", "noted"),
    [
        (b' {"a": 1} \n', False),
        ('{"name": "Zoë"}'.encode(), False),  # UTF-8 beyond ASCII
        (b'{"a": "\xe9"}', True),  # Latin-1, not UTF-8
        (b"[1, 2", True),
        (b"not json", True),
        (b"   ", True),
    ],
)
def test_a_body_declared_json_that_is_not_gets_a_note(scanner: Scanner, body: bytes, noted: bool) -> None:
    result = scanner.scan_message(body=body, content_type="application/json")
    assert any("declared JSON but is not" in n for n in result.notes) == noted


def test_a_body_beyond_the_pattern_window_says_so() -> None:
    scanner = Scanner(parse_canaries(CANARIES), pattern_max_bytes=1024)
    body = b"x" * 2000 + b" other imei 356938035643809 " + IMEI.encode()
    result = scanner.scan_message(body=body, content_type="text/plain")
    assert any("patterns checked on the first 1024 of 2043 bytes" in n for n in result.notes), result.notes
    assert ("imei", "body", "plain") in _ids(result)  # the canary: anywhere
    assert not any(f.id == "pattern:imei" for f in result.findings)  # the other IMEI: beyond the window
    short = scanner.scan_message(body=body[:1024], content_type="text/plain")
    assert not any("patterns checked" in n for n in short.notes)


def test_gzip_bomb_is_bounded() -> None:
    small = Scanner(parse_canaries(CANARIES), max_decoded=1024 * 1024)
    bomb = gzip.compress(b"\0" * (8 * 1024 * 1024))
    result = small.scan_message(body=bomb, content_encoding="gzip")
    assert any("exceeds" in n for n in result.notes)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("mail someone.else@example.org now", "email"),
        ("call +14155550123 please", "phone"),
        ("mac=3c:5a:b4:01:02:03", "mac"),
        ("imei 356938035643809 here", "imei"),
        ("sim 8991101200003204514", "iccid"),
        ('{"imsi": "310150123456789"}', "imsi"),
        ('{"android_id": "abcdef0123456789"}', "android_id"),
        ('{"gaid": "cdda802e-fb9c-47ad-9866-0794d394c912"}', "advertising_id"),
    ],
)
def test_patterns(scanner: Scanner, text: str, kind: str) -> None:
    found = {(f.type, f.id) for f in scanner.scan_message(body=text.encode()).findings}
    assert (kind, f"pattern:{kind}") in found


@pytest.mark.parametrize(
    "text",
    [
        "ts=1700000000000123", "mac=00:00:00:00:00:00", "imei 356938035643808",
        "id=550e8400-e29b-41d4-a716-446655440000", '{"n": 0.356938035643809}', "ip6 fe80::1:2:3:4",
        "mac=3c:5a:b4:01:02:03:04", '{"android_id": "nothex-nothex00"}',
    ],
)
def test_patterns_do_not_fire_on_lookalikes(scanner: Scanner, text: str) -> None:
    assert scanner.scan_message(body=text.encode()).findings == []


def test_canary_values_are_not_reported_twice_as_patterns(scanner: Scanner) -> None:
    found = scanner.scan_message(body=f"imei={IMEI}".encode()).findings
    assert [(f.id, f.encoding) for f in found] == [("imei", "plain")]


def test_gps_near_planted_location(scanner: Scanner) -> None:
    near = scanner.scan_message(body=b'{"lat": 28.61394, "lng": 77.20912}', content_type="application/json")
    assert {f.type for f in near.findings} == {"location"}
    far = scanner.scan_message(body=b'{"lat": 48.85660, "lng": 2.35220}', content_type="application/json")
    assert far.findings == []


def test_offsets_point_at_the_value(scanner: Scanner) -> None:
    text = f"xxxx{IMEI}".encode()
    (finding,) = scanner.scan_text(text, "body")
    assert text[finding.offset : finding.offset + len(IMEI)] == IMEI.encode()


def test_repeated_value_is_one_finding(scanner: Scanner) -> None:
    found = scanner.scan_message(body=(IMEI + " ").encode() * 100).findings
    assert len(found) == 1


def test_encoding_chain() -> None:
    assert encoding_chain("plain", ()) == "plain"
    assert encoding_chain("plain", ("base64", "gzip")) == "gzip+base64"
    assert encoding_chain("sha256", ("gzip",)) == "sha256+gzip"


def test_luhn() -> None:
    assert luhn_ok(IMEI)
    assert not luhn_ok("490154203237519")


@pytest.mark.parametrize("bad", [[], {"identifiers": []}, {"planted": {}}, {"planted": [1]}])
def test_bad_canaries_are_capture_errors(bad) -> None:
    with pytest.raises(CaptureError):
        parse_canaries(bad)


def test_no_canaries_still_runs_patterns() -> None:
    empty = Scanner(None)
    assert empty.needle_count == 0
    assert empty.scan_message(body=b"x someone@example.org").findings[0].type == "email"


def test_base64_then_url_encoded_in_query_and_form(scanner: Scanner) -> None:
    value = quote(base64.b64encode(b"CANARY~~~>>>???clip").decode(), safe="")
    assert "%2B" in value and "%2F" in value
    in_url = _ids(scanner.scan_message(url=f"https://b.example/b?c={value}"))
    assert ("clip-1", "url", "base64+url") in in_url
    in_form = _ids(scanner.scan_message(body=f"adid=x&c={value}".encode(),
                                        content_type="application/x-www-form-urlencoded"))
    assert ("clip-1", "body:c", "base64") in in_form


def test_vendor_contacts_base64_in_gzip_json(scanner: Scanner) -> None:
    book = base64.b64encode(b"CANARYc0ntact7Q,+919811122233").decode()
    body = gzip.compress(json.dumps({"did": "x", "book": book}).encode())
    found = _ids(scanner.scan_message(body=body, content_type="application/json; charset=utf-8",
                                      content_encoding="gzip"))
    assert ("contact-1", "body:$.book", "base64+gzip") in found


def test_a_planted_contacts_number_is_contact_data_not_the_handsets_phone(scanner: Scanner) -> None:
    result = scanner.scan_message(body=b'{"n": "+919811122233"}', content_type="application/json")
    canary = [f for f in result.findings if f.id == "contact-1"]
    assert canary and {f.type for f in canary} == {"contact"}


@pytest.mark.parametrize(
    ("url", "host", "expected"),
    [
        (f"http://{IMEI}.t.example/p", f"{IMEI}.t.example", {"url"}),  # the URL's own host: once
        (f"http://{IMEI}.t.example:8080/p", f"{IMEI.upper()}.T.EXAMPLE:8080", {"url"}),
        ("http://10.0.0.7/p", f"{IMEI}.t.example", {"header:host"}),  # another host than the URL's
    ],
)
def test_the_host_header_is_scanned_when_it_names_another_host(scanner: Scanner, url, host, expected) -> None:
    found = scanner.scan_message(url=url, headers=[(b"Host", host.encode())]).findings
    assert {f.where for f in found if f.id == "imei"} == expected


def test_hostile_header_and_cookie_names_are_printable_and_bounded(scanner: Scanner) -> None:
    name = "X-\x1b[31m" + "n" * 100_000
    cookie = "c\u202e" + "k" * 100_000
    found = scanner.scan_message(headers=[(name.encode(), IMEI.encode()), ("Cookie", f"{cookie}={IMEI}")]).findings
    wheres = {f.where for f in found if f.id == "imei"}
    assert wheres == {"header:x-?[31m" + "n" * 57, "cookie:c???" + "k" * 60}  # U+202E is three bytes
