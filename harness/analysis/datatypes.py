"""Data types as the reports say them: which are device or subscriber identifiers, and
their names in plain language ("the IMEI", "the location")."""

from __future__ import annotations

# identifiers of the handset, the SIM or the user: sent, they let a receiver recognise the phone
IDENTIFIERS = frozenset({
    "imei", "meid", "device_id", "imsi", "iccid", "serial", "android_id", "advertising_id",
    "wifi_mac", "bt_mac", "bssid", "phone", "gsf_id", "subscriber_id", "account", "mac",
})

NAMES = {
    "imei": "the IMEI", "meid": "the MEID", "device_id": "the device ID", "imsi": "the IMSI",
    "iccid": "the ICCID", "serial": "the device serial number",
    "android_id": "the Android ID", "advertising_id": "the advertising ID",
    "wifi_mac": "the Wi-Fi MAC address", "bt_mac": "the Bluetooth MAC address",
    "bssid": "the Wi-Fi network's BSSID", "phone": "the phone number", "gsf_id": "the GSF ID",
    "subscriber_id": "the subscriber ID", "account": "the account name", "location": "the location",
    "contact": "a contact", "contacts": "the contacts", "sms": "an SMS", "call_log": "the call log",
    "clipboard": "the clipboard", "packages": "the list of installed apps", "email": "an e-mail address",
    "fingerprint": "the build fingerprint", "model": "the model name", "mac": "a MAC address",
    "wifi": "the Wi-Fi networks", "accounts": "the accounts on the device",
}


def is_identifier(data_type: str) -> bool:
    return str(data_type).lower() in IDENTIFIERS


def spoken(data_type: str) -> str:
    """`imei` -> `the IMEI`; an unknown type keeps its name: `the x_token`."""
    key = str(data_type)
    return NAMES.get(key.lower(), f"the {key}")
