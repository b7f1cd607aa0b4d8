"""A realistic full `getprop` set generated from a handset spec's build values."""

from __future__ import annotations

import time

from harness.virtual.spec import HandsetSpec

_CODENAMES = {29: "10", 30: "11", 31: "12", 32: "12", 33: "13", 34: "14", 35: "15", 36: "16"}


def fingerprint(spec: HandsetSpec) -> str:
    b = spec.build
    return (f"{b.brand}/{b.product}/{b.device}:{b.release}/{b.build_id}/{b.incremental}:"
            f"{b.build_type}/{b.build_tags}")


def build_properties(spec: HandsetSpec) -> dict[str, str]:
    b, ids = spec.build, spec.identifiers
    fp = fingerprint(spec)
    desc = f"{b.product}-{b.build_type} {b.release} {b.build_id} {b.incremental} {b.build_tags}"
    abilist64 = "arm64-v8a" if b.abi.startswith("arm") else "x86_64"
    abilist32 = "armeabi-v7a,armeabi" if b.abi.startswith("arm") else "x86"
    debuggable = "1" if b.build_type != "user" else "0"
    date = time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(b.build_date_utc))
    props: dict[str, str] = {
        "apex.all.ready": "true",
        "bluetooth.device.class_of_device": "90,2,12",
        "bluetooth.profile.a2dp.source.enabled": "true",
        "bluetooth.profile.gatt.enabled": "true",
        "dalvik.vm.heapgrowthlimit": "256m",
        "dalvik.vm.heapmaxfree": "8m",
        "dalvik.vm.heapminfree": "512k",
        "dalvik.vm.heapsize": "512m",
        "dalvik.vm.heapstartsize": "8m",
        "dalvik.vm.heaptargetutilization": "0.75",
        "dalvik.vm.isa.arm64.variant": "generic",
        "dalvik.vm.usejit": "true",
        "dev.bootcomplete": "1",
        "gsm.current.phone-type": "1",
        "gsm.network.type": "LTE",
        "gsm.operator.alpha": b.operator,
        "gsm.operator.iso-country": b.operator_iso,
        "gsm.operator.isroaming": "false",
        "gsm.operator.numeric": b.operator_numeric,
        "gsm.sim.operator.alpha": b.operator,
        "gsm.sim.operator.iso-country": b.operator_iso,
        "gsm.sim.operator.numeric": ids.imsi[:5],
        "gsm.sim.state": "LOADED",
        "gsm.version.baseband": f"{b.board}.MPSS.1.0-{b.incremental}",
        "init.svc.adbd": "running",
        "init.svc.zygote": "running",
        "init.svc.zygote_secondary": "running",
        "net.bt.name": "Android",
        "persist.sys.dalvik.vm.lib.2": "libart.so",
        "persist.sys.locale": b.locale,
        "persist.sys.timezone": b.timezone,
        "persist.sys.usb.config": "adb",
        "ro.adb.secure": "1",
        "ro.allow.mock.location": "0",
        "ro.apex.updatable": "true",
        "ro.baseband": "msm",
        "ro.board.platform": b.board,
        "ro.boot.hardware": b.hardware,
        "ro.boot.serialno": ids.serial,
        "ro.boot.verifiedbootstate": "green" if b.build_type == "user" else "orange",
        "ro.boot.flash.locked": "1" if b.build_type == "user" else "0",
        "ro.bootimage.build.fingerprint": fp,
        "ro.build.characteristics": "default",
        "ro.build.date": date,
        "ro.build.date.utc": str(b.build_date_utc),
        "ro.build.description": desc,
        "ro.build.display.id": f"{b.build_id}.{b.incremental}",
        "ro.build.fingerprint": fp,
        "ro.build.flavor": f"{b.product}-{b.build_type}",
        "ro.build.host": "build-host-07",
        "ro.build.id": b.build_id,
        "ro.build.product": b.device,
        "ro.build.tags": b.build_tags,
        "ro.build.type": b.build_type,
        "ro.build.user": "android-build",
        "ro.build.version.all_codenames": "REL",
        "ro.build.version.base_os": "",
        "ro.build.version.codename": "REL",
        "ro.build.version.incremental": b.incremental,
        "ro.build.version.min_supported_target_sdk": "23" if b.sdk < 34 else "28",
        "ro.build.version.preview_sdk": "0",
        "ro.build.version.release": b.release,
        "ro.build.version.release_or_codename": _CODENAMES.get(b.sdk, b.release),
        "ro.build.version.sdk": str(b.sdk),
        "ro.build.version.security_patch": b.security_patch,
        "ro.crypto.state": "encrypted",
        "ro.crypto.type": "file",
        "ro.debuggable": debuggable,
        "ro.hardware": b.hardware,
        "ro.kernel.version": b.kernel.split("-")[0],
        "ro.odm.build.fingerprint": fp,
        "ro.product.board": b.board,
        "ro.product.brand": b.brand,
        "ro.product.cpu.abi": b.abi,
        "ro.product.cpu.abilist": f"{abilist64},{abilist32}",
        "ro.product.cpu.abilist32": abilist32,
        "ro.product.cpu.abilist64": abilist64,
        "ro.product.device": b.device,
        "ro.product.first_api_level": str(b.sdk),
        "ro.product.locale": b.locale,
        "ro.product.manufacturer": b.manufacturer,
        "ro.product.model": b.model,
        "ro.product.name": b.product,
        "ro.product.system.brand": b.brand,
        "ro.product.system.manufacturer": b.manufacturer,
        "ro.product.system.model": b.model,
        "ro.product.vendor.brand": b.brand,
        "ro.product.vendor.device": b.device,
        "ro.product.vendor.manufacturer": b.manufacturer,
        "ro.product.vendor.model": b.model,
        "ro.product.vendor.name": b.product,
        "ro.revision": "0",
        "ro.secure": "1",
        "ro.serialno": ids.serial,
        "ro.sf.lcd_density": str(b.density),
        "ro.system.build.fingerprint": fp,
        "ro.system.build.version.sdk": str(b.sdk),
        "ro.vendor.build.fingerprint": fp,
        "ro.vendor.build.security_patch": b.security_patch,
        "ro.zygote": "zygote64_32",
        "service.adb.root": "0",
        "sys.boot.reason": "reboot",
        "sys.boot_completed": "1",
        "sys.usb.config": "adb",
        "sys.usb.state": "adb",
        "vold.has_adoptable": "1",
        "wifi.interface": "wlan0",
    }
    props.update(spec.properties)
    return props
