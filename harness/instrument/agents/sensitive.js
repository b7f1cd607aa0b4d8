/*
 * sensitive.js: Java hooks on the APIs that return sensitive data.
 *
 * Each call emits a hook:event (as a row, Lab.emitJava) with api, category, value, thread
 * and stack: `value` is the returned value as a string (what the sensitive scanner matches
 * in flows), `stack` the Java stack, innermost first (the hooked API, then the code that
 * asked); ContentResolver.query adds `uri`, a failed read a `note`.
 * A class or method missing on this Android version is reported once (hook:unavailable).
 */

Lab.register({
  name: "sensitive",
  java: function (config) {
    function text(value) {
      return value === null || value === undefined ? null : String(value);
    }

    function field(obj, name) {
      const f = obj["_" + name] !== undefined ? obj["_" + name] : obj[name];
      return f !== undefined && f !== null && "value" in f ? f.value : null;
    }

    function cast(obj, cls) {
      return Java.cast(obj, Lab.useClass(cls));
    }

    function listItems(list, limit) {
      if (list === null || list === undefined) {
        return [];
      }
      const items = [];
      const size = Math.min(list.size(), limit);
      for (let i = 0; i !== size; i++) {
        items.push(list.get(i));
      }
      return items;
    }

    function location(ret) {
      if (ret === null) {
        return null;
      }
      return ret.getLatitude() + "," + ret.getLongitude();
    }

    function uriCategory(uri) {
      const u = String(uri).toLowerCase();
      if (u.indexOf("call_log") >= 0 || u.indexOf("calllog") >= 0) {
        return "call_log";
      }
      if (u.indexOf("contacts") >= 0 || u.indexOf("phone_lookup") >= 0) {
        return "contacts";
      }
      if (u.indexOf("content://sms") === 0 || u.indexOf("content://mms") === 0 || u.indexOf("mms-sms") >= 0) {
        return "sms";
      }
      return null;
    }

    /* The cursor's rows (string cells joined by "|"), then the cursor put back where it was. */
    function cursorRows(cursor) {
      if (cursor === null) {
        return null;
      }
      const rows = [];
      const position = cursor.getPosition();
      const columns = cursor.getColumnCount();
      const count = Math.min(cursor.getCount(), 50);
      try {
        for (let i = 0; i !== count; i++) {
          if (!cursor.moveToPosition(i)) {
            break;
          }
          const cells = [];
          for (let c = 0; c !== columns; c++) {
            try {
              const cell = cursor.getString(c);
              if (cell !== null) {
                cells.push(String(cell));
              }
            } catch (e) {
              continue;
            }
          }
          rows.push(cells.join("|"));
        }
      } finally {
        cursor.moveToPosition(position);
      }
      return rows.join("\n");
    }

    function accounts(ret) {
      if (ret === null) {
        return null;
      }
      const out = [];
      for (let i = 0; i !== ret.length; i++) {
        out.push(field(ret[i], "name") + ":" + field(ret[i], "type"));
      }
      return out.join(",");
    }

    function packages(ret) {
      return listItems(ret, 2000).map(function (item) {
        const info = cast(item, "android.content.pm.PackageInfo");
        return text(field(info, "packageName"));
      }).join(",");
    }

    function applications(ret) {
      return listItems(ret, 2000).map(function (item) {
        const info = cast(item, "android.content.pm.ApplicationInfo");
        return text(field(info, "packageName"));
      }).join(",");
    }

    function wifiInfo(ret) {
      if (ret === null) {
        return null;
      }
      const parts = [];
      ["getMacAddress", "getBSSID", "getSSID"].forEach(function (getter) {
        try {
          parts.push(text(ret[getter]()));
        } catch (e) {
          parts.push(null);
        }
      });
      return parts.join(",");
    }

    function scanResults(ret) {
      return listItems(ret, 200).map(function (item) {
        const result = cast(item, "android.net.wifi.ScanResult");
        return text(field(result, "BSSID")) + "/" + text(field(result, "SSID"));
      }).join(",");
    }

    function clip(ret) {
      if (ret === null) {
        return null;
      }
      const texts = [];
      for (let i = 0; i !== ret.getItemCount(); i++) {
        texts.push(text(ret.getItemAt(i).getText()));
      }
      return texts.join("\n");
    }

    function adInfo(ret) {
      return ret === null ? null : text(ret.getId());
    }

    function firstArg(ret, args) {
      return args.length > 0 ? text(args[0]) : null;
    }

    function none() {
      return null;
    }

    const PM = ["android.app.ApplicationPackageManager", "android.content.pm.PackageManager"];
    const FUSED = "com.google.android.gms.location.FusedLocationProviderClient";
    const specs = [
      ["android.telephony.TelephonyManager", "getImei", "imei"],
      ["android.telephony.TelephonyManager", "getDeviceId", "imei"],
      ["android.telephony.TelephonyManager", "getMeid", "meid"],
      ["android.telephony.TelephonyManager", "getSubscriberId", "imsi"],
      ["android.telephony.TelephonyManager", "getLine1Number", "phone"],
      ["android.telephony.TelephonyManager", "getSimSerialNumber", "iccid"],
      ["android.provider.Settings$Secure", "getString", "android_id", null,
        function (args) { return args.length > 1 && String(args[1]) === "android_id"; }],
      ["android.location.LocationManager", "getLastKnownLocation", "location", location],
      [FUSED, "getLastLocation", "location", none],
      [FUSED, "getCurrentLocation", "location", none],
      [FUSED, "requestLocationUpdates", "location", none],
      ["android.content.ContentResolver", "query", null, function (ret) { return cursorRows(ret); }],
      ["android.accounts.AccountManager", "getAccounts", "accounts", accounts],
      ["android.accounts.AccountManager", "getAccountsByType", "accounts", accounts],
      [PM, "getInstalledPackages", "installed_packages", packages],
      [PM, "getInstalledApplications", "installed_packages", applications],
      ["android.net.wifi.WifiManager", "getConnectionInfo", "wifi", wifiInfo],
      ["android.net.wifi.WifiManager", "getScanResults", "wifi_scan", scanResults],
      ["android.bluetooth.BluetoothAdapter", "getAddress", "bt_mac"],
      ["android.content.ClipboardManager", "getPrimaryClip", "clipboard", clip],
      ["com.google.android.gms.ads.identifier.AdvertisingIdClient", "getAdvertisingIdInfo", "advertising_id", adInfo],
      ["android.os.Build", "getSerial", "serial"],
      ["android.media.AudioRecord", "startRecording", "microphone", none],
      ["android.hardware.Camera", "open", "camera", firstArg],
      ["android.hardware.camera2.CameraManager", "openCamera", "camera", firstArg],
    ];

    const installed = {};
    specs.forEach(function (spec) {
      const cls = spec[0];
      const method = spec[1];
      const fixedCategory = spec[2];
      const valueOf = spec[3] || function (ret) { return text(ret); };
      const when = spec[4] || null;
      const sites = {};  /* category -> site id (the api is this spec's) */
      const count = Lab.hookJava(cls, method, function (api, ret, args, self, error) {
        if (when !== null && !when(args)) {
          return;
        }
        const category = fixedCategory !== null ? fixedCategory : uriCategory(args[0]);
        if (category === null) {
          return;
        }
        let value = null;
        let extra;
        if (error === null) {
          try {
            value = valueOf(ret, args);
          } catch (e) {
            extra = { note: "value unreadable: " + String(e.message || e) };
          }
        } else {
          extra = { note: "threw: " + String(error.message || error) };
        }
        if (fixedCategory === null) {
          extra = Object.assign({ uri: String(args[0]) }, extra);
        }
        let site = sites[category];
        if (site === undefined) {
          site = sites[category] = Lab.site("hook:event", api, category);
        }
        Lab.emitJava(site, Lab.clip(value), extra);
      });
      if (count > 0) {
        installed[(Array.isArray(cls) ? cls[0] : cls) + "." + method] = count;
      }
    });
    return installed;
  },
});
