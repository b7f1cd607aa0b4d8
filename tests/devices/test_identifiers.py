"""Parcel replies of `service call iphonesubinfo` (service-call-iphonesubinfo.txt)."""

import pytest

from harness.devices.identifiers import parse_adid, parse_parcel_string, subinfo_codes

IMEI_REPLY = """Result: Parcel(
  0x00000000: 00000000 0000000f 00350033 00340035 '........3.5.5.4.'
  0x00000010: 00300039 00360030 00390039 00370032 '9.0.0.6.9.9.2.7.'
  0x00000020: 00390033 00000034                   '3.9.4...        ')
"""


def test_imei_from_real_parcel():
    assert parse_parcel_string(IMEI_REPLY) == "355490069927394"


def test_exception_and_null_parcels():
    with pytest.raises(ValueError, match="exception"):
        parse_parcel_string("Result: Parcel(ffffffb4 00000000   '........')")
    assert parse_parcel_string("Result: Parcel(00000000 ffffffff   '........')") is None
    with pytest.raises(ValueError):
        parse_parcel_string("/system/bin/sh: service: not found")
    with pytest.raises(ValueError, match="READ_PHONE_STATE"):
        parse_parcel_string("Result: Parcel(... Requires READ_PHONE_STATE ...)")


def test_codes_per_release():
    assert subinfo_codes(34) == {"imei": 1, "imsi": 8, "iccid": 12, "phone": 15}
    assert subinfo_codes(29)["iccid"] == 10 and subinfo_codes(29)["phone"] == 12
    assert subinfo_codes(26)["iccid"] == 11 and subinfo_codes(26)["phone"] == 13
    assert subinfo_codes(21)["iccid"] == 9
    assert subinfo_codes(35) == {}


def test_adid():
    xml = ('<?xml version="1.0"?><map><string name="adid_key">'
           '38400000-8cf0-11bd-b23e-10b96e40000d</string></map>')
    assert parse_adid(xml) == "38400000-8cf0-11bd-b23e-10b96e40000d"
    assert parse_adid("<map/>") is None
