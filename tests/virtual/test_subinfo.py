"""`service call iphonesubinfo` on the virtual handsets answers per release: each SDK's
transaction codes give its identifiers (the codes below are IPhoneSubInfo.aidl's order,
tests/devices/samples/iphonesubinfo-codes.txt), and another release's codes do not."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from support.shell_host import Host

from harness.devices.subinfo import parse_parcel_string
from harness.virtual.spec import HANDSETS_DIR

# written out here, not imported, so that a wrong table in either place fails a test
CODES = {
    33: {"imei": 1, "imsi": 8, "iccid": 12, "phone": 15},
    34: {"imei": 1, "imsi": 8, "iccid": 12, "phone": 15},
    35: {"imei": 1, "imsi": 8, "iccid": 12, "phone": 15},
    36: {"imei": 1, "imsi": 8, "iccid": 13, "phone": 16},
}
HANDSETS = {33: "vendor-1.0", 34: "rooted-a14", 35: "rooted-a15", 36: "rooted-a16"}


def ask(host: Host, code: int, args: str = "s16 com.android.shell") -> str | None:
    return parse_parcel_string(host.run(f"service call iphonesubinfo {code} {args}")[0])


@pytest.mark.parametrize("sdk", sorted(CODES))
def test_each_release_answers_its_own_codes(sdk: int) -> None:
    host = Host(HANDSETS[sdk])
    ids = host.state.identifiers
    assert {name: ask(host, code) for name, code in CODES[sdk].items()} == {
        name: ids[name] for name in CODES[sdk]}
    assert ask(host, 4, "i32 0 s16 com.android.shell") == ids["imei"]  # getDeviceIdForPhone(slot)


def test_android_16_moved_the_iccid_and_line_1_number() -> None:
    host = Host("rooted-a16")
    for code in (12, 15):  # getGroupIdLevel2ForSubscriber, getIccSerialNumberForSubscriber: (int, ...)
        with pytest.raises(ValueError, match="Parcel data not fully consumed"):
            ask(host, code)
    assert ask(Host("rooted-a15"), 16, "i32 1 s16 com.android.shell") == Host("rooted-a15").state.identifiers["phone"]


def test_caller_package_and_sim(tmp_path: Path) -> None:
    host = Host("rooted-a16")
    with pytest.raises(ValueError, match="does not meet the requirements"):
        ask(host, 1, "")
    with pytest.raises(ValueError, match="does not belong to 2000"):
        ask(host, 1, "s16 com.example.other")
    host.state.sim_present = False
    assert ask(host, 8) is None and ask(host, 13) is None and ask(host, 1) == host.state.identifiers["imei"]


def spec_file(tmp_path: Path, base: str, **changes: object) -> Path:
    """A copy of a built-in spec with top-level keys changed (dotted keys go one level down)."""
    data = yaml.safe_load((HANDSETS_DIR / f"{base}.yaml").read_text())
    for key, value in changes.items():
        top, _, sub = key.partition("__")
        if sub:
            data.setdefault(top, {})[sub] = value
        else:
            data[top] = value
    path = tmp_path / f"{base}-changed.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_vendor_method_shifts_the_later_codes(tmp_path: Path) -> None:
    host = Host(str(spec_file(tmp_path, "rooted-a15", telephony={"vendor_method_at": 11})))
    ids = host.state.identifiers
    assert ask(host, 1) == ids["imei"] and ask(host, 8) == ids["imsi"]
    with pytest.raises(ValueError, match="Parcel data not fully consumed"):
        ask(host, 12)  # now getGroupIdLevel1ForSubscriber(int, ...)
    assert ask(host, 13) == ids["iccid"] and ask(host, 16) == ids["phone"]


def test_a_sim_without_a_number_answers_null(tmp_path: Path) -> None:
    host = Host(str(spec_file(tmp_path, "rooted-a16", identifiers__phone="")))
    assert ask(host, 16) is None and ask(host, 13) == host.state.identifiers["iccid"]
