"""Parcel replies of `service call iphonesubinfo` (service-call-iphonesubinfo.txt), the
transaction codes per release (samples/iphonesubinfo-codes.txt) and the SIM table rows."""

import pytest

from harness.devices.identifiers import parse_adid, parse_siminfo
from harness.devices.subinfo import candidate_codes, parse_parcel_string, subinfo_codes

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
    # android-15 inserted nothing before getLine1Number; android-16 getGroupIdLevel2ForSubscriber at 12
    assert subinfo_codes(35) == {"imei": 1, "imsi": 8, "iccid": 12, "phone": 15}
    assert subinfo_codes(36) == {"imei": 1, "imsi": 8, "iccid": 13, "phone": 16}
    assert subinfo_codes(37) == {} and subinfo_codes(20) == {}


def test_candidate_codes_try_the_neighbour_release_and_a_vendor_shift():
    assert [c for c, _ in candidate_codes(35, "iccid")] == [12, 13]
    assert [c for c, _ in candidate_codes(34, "phone")] == [15, 16]
    assert candidate_codes(36, "phone") == [(16, "SDK 36"), (15, "code of Android 11-15"),
                                            (17, "a vendor method before it")]
    assert [c for c, _ in candidate_codes(30, "phone")] == [15, 12, 16]
    assert [c for c, _ in candidate_codes(37, "iccid")] == [13, 12, 14]  # unknown: the newest first
    assert [c for c, _ in candidate_codes(36, "imei")] == [1, 2]
    assert all(len(candidate_codes(sdk, n)) <= 4 for sdk in range(19, 40) for n in ("imei", "imsi", "iccid", "phone"))


def test_exception_parcel_names_its_message():
    reply = """Result: Parcel(
  0x00000000: fffffffe 0000002f 00610050 00630072 '..../...P.a.r.c.'
  0x00000010: 006c0065 00640020 00740061 00200061 'e.l. .d.a.t.a. .'
  0x00000020: 006f006e 00200074 00750066 006c006c 'n.o.t. .f.u.l.l.'
  0x00000030: 00200079 006f0063 0073006e 006d0075 'y. .c.o.n.s.u.m.'
  0x00000040: 00640065 0020002c 006e0075 00650072 'e.d.,. .u.n.r.e.'
  0x00000050: 00640061 00730020 007a0069 003a0065 'a.d. .s.i.z.e.:.'
  0x00000060: 00340020 00000034 00000000          ' .4.4.......    ')
"""
    with pytest.raises(ValueError, match=r"^exception -2: Parcel data not fully consumed, unread size: 44$"):
        parse_parcel_string(reply)


def test_siminfo_rows_take_the_sim_in_a_slot():
    text = ("Row: 0 icc_id=8901260000000000001, imsi=310260000000001, number=NULL, sim_id=-1\n"
            "Row: 1 icc_id=8901260123451616163, imsi=310260123451616, number=+15555550166, sim_id=0\n")
    assert parse_siminfo(text) == {"iccid": "8901260123451616163", "imsi": "310260123451616",
                                   "phone": "+15555550166"}
    assert parse_siminfo(text.splitlines()[0]) == {"iccid": "8901260000000000001", "imsi": "310260000000001",
                                                  "phone": None}
    assert parse_siminfo("No result found.") == {"iccid": None, "imsi": None, "phone": None}


def test_adid():
    xml = ('<?xml version="1.0"?><map><string name="adid_key">'
           '38400000-8cf0-11bd-b23e-10b96e40000d</string></map>')
    assert parse_adid(xml) == "38400000-8cf0-11bd-b23e-10b96e40000d"
    assert parse_adid("<map/>") is None
