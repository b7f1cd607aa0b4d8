/*
 * unpin.js: certificate-pinning bypasses, loaded only for the packages a profile names.
 * Each bypass belongs to a library; config.unpinLibraries (null: all) selects them.
 *
 *   okhttp3            okhttp3.CertificatePinner.check (every overload, and OkHttp 4's
 *                      check$okhttp): no-op.
 *   conscrypt          the platform TrustManagerImpl (com.android.org.conscrypt, org.conscrypt):
 *                      every checkServerTrusted and getTrustedChainForServer overload, and the
 *                      private checkTrustedRecursive and verifyChain, accept and return what the
 *                      signature demands: nothing, or the chain as a java.util.List (Conscrypt's
 *                      List overloads are what X509TrustManagerExtensions, OkHttp's chain cleaner
 *                      and WebView call; an undefined return there is refused by the bridge).
 *   trustmanager       every other loaded X509TrustManager implementation (the app's own, the
 *                      Network Security Config's RootTrustManager / NetworkSecurityTrustManager),
 *                      and those handed to SSLContext.init later: the same.
 *   conscrypt-ct       Certificate Transparency (Android 16): CertificateTransparency.checkCT is a
 *                      no-op, the CT policy's doesResultConformToPolicy says COMPLY (true on older
 *                      CTPolicyImpl), an older TrustManagerImpl.checkCT is a no-op.
 *   hostname-verifier  every loaded javax.net.ssl.HostnameVerifier: verify returns true; those
 *                      handed later to HttpsURLConnection.set(Default)HostnameVerifier or
 *                      OkHttpClient.Builder.hostnameVerifier too.
 *   webview            android.webkit.WebViewClient.onReceivedSslError, and every loaded subclass
 *                      overriding it (and those handed to WebView.setWebViewClient later):
 *                      handler.proceed().
 * A class first seen when it is handed over (SSLContext.init, set*HostnameVerifier,
 * setWebViewClient) is patched from the script's thread right after: that call runs unpatched.
 *   boringssl-symbol   native BoringSSL by symbol, in every module that has it (and modules loaded
 *                      later): SSL_CTX_set_custom_verify / SSL_set_custom_verify get a callback
 *                      that calls the app's (stacks such as Cronet expect it to run) and answers
 *                      ssl_verify_ok; ssl_crypto_x509_session_verify_cert_chain returns 1.
 *   boringssl-pattern  native BoringSSL stripped of its symbols (Flutter): ssl_verify_peer_cert
 *                      found by byte pattern in libflutter.so, as NVISO's
 *                      disable-flutter-tls-verification does; it returns ssl_verify_ok (0).
 *
 * Emits unpin:applied {api, library, value: library, count} once per patched method and
 * unpin:bypassed {api, library, host} on each check skipped.
 */

const UNPIN_LIBRARIES = ["okhttp3", "conscrypt", "trustmanager", "conscrypt-ct", "hostname-verifier",
  "webview", "boringssl-symbol", "boringssl-pattern"];

const Unpin = (function () {
  const applied = {};

  function wanted(config, library) {
    const only = config.unpinLibraries;
    return only === null || only === undefined || only.indexOf(library) >= 0;
  }

  function context() {
    if (Java !== null) {
      try {
        const found = Lab.javaContextIfAttached();
        if (found !== null && found !== undefined) {
          return found;
        }
      } catch (e) {
        /* not a Java thread */
      }
    }
    return { thread: Lab.threadName(), stack: [] };
  }

  function bypassed(library, api, host) {
    const where = context();
    Lab.emit({
      type: "unpin:bypassed", ts: Lab.now(), api: api, library: library, category: "tls",
      value: host, host: host, thread: where.thread, stack: where.stack,
    });
  }

  function announce(library, api, count) {
    if (count > 0) {
      applied[api] = (applied[api] || 0) + count;
      Lab.emit({ type: "unpin:applied", ts: Lab.now(), api: api, library: library, category: "tls",
        value: library, count: count, thread: null, stack: [] });
    }
  }

  return { applied: applied, wanted: wanted, bypassed: bypassed, announce: announce };
})();

/* --- native: BoringSSL ------------------------------------------------------------------- */

const NativeUnpin = (function () {
  const SSL_VERIFY_OK = 0;
  const SSL_VERIFY_INVALID = 1;
  /* ssl_verify_peer_cert's prologue in BoringSSL builds of Flutter (NVISO's
   * disable-flutter-tls-verification, per architecture). */
  const FLUTTER_PATTERNS = {
    arm64: [
      "F? 0F 1C F8 F? 5? 01 A9 F? 5? 02 A9 F? ?? 03 A9 ?? ?? ?? ?? 68 1A 40 F9",
      "F? 43 01 D1 FE 67 01 A9 F8 5F 02 A9 F6 57 03 A9 F4 4F 04 A9 13 00 40 F9 F4 03 00 AA 68 1A 40 F9",
      "FF 43 01 D1 FE 67 01 A9 ?? ?? 06 94 ?? 7? 06 94 68 1A 40 F9 15 15 41 F9 B5 00 00 B4 B6 4A 40 F9",
    ],
    arm: ["2D E9 F? 4? D0 F8 00 80 81 46 D8 F8 18 00 D0 F8 ??"],
    x64: [
      "55 41 57 41 56 41 55 41 54 53 50 49 89 f? 4c 8b 37 49 8b 46 30 4c 8b a? ?? 0? 00 00 4d 85 e? 74 1? 4d 8b",
      "55 41 57 41 56 41 55 41 54 53 48 83 EC 18 49 89 FF 48 8B 1F 48 8B 43 30 4C 8B A0 28 02 00 00 4D 85 E4 74",
    ],
  };
  const FLUTTER_MODULES = ["libflutter.so"];
  const SYSTEM_PREFIXES = ["/system/", "/apex/", "/vendor/", "/product/", "/usr/", "/lib/", "/lib64/"];
  const hooked = new Set();  /* addresses */
  const wrappers = {};  /* original callback address -> NativeCallback */
  const keep = [];  /* callbacks and listeners that must outlive this function */

  function appModule(module) {
    const path = module.path || "";
    return !SYSTEM_PREFIXES.some(function (prefix) { return path.indexOf(prefix) === 0; });
  }

  function symbol(module, name, withSymbols) {
    let address = module.findExportByName(name);
    if (address === null && withSymbols) {
      try {
        address = module.findSymbolByName(name);
      } catch (e) {
        address = null;
      }
    }
    return address === null || hooked.has(address.toString()) ? null : address;
  }

  /* The app's verify callback, run (Cronet expects it to be), then ssl_verify_ok. */
  function verifyWrapper(library, api, original) {
    const key = original.toString();
    if (wrappers[key] === undefined) {
      const call = original.isNull() ? null : new NativeFunction(original, "int", ["pointer", "pointer"]);
      wrappers[key] = new NativeCallback(function (ssl, outAlert) {
        const result = call === null ? SSL_VERIFY_INVALID : call(ssl, outAlert);
        if (result === 2) {
          return result;  /* ssl_verify_retry: asked again when the app's answer is in */
        }
        if (result !== SSL_VERIFY_OK) {
          Unpin.bypassed(library, api, null);
        }
        return SSL_VERIFY_OK;
      }, "int", ["pointer", "pointer"]);
    }
    return wrappers[key];
  }

  function bySymbol(module) {
    const library = "boringssl-symbol";
    const withSymbols = appModule(module);
    ["SSL_CTX_set_custom_verify", "SSL_set_custom_verify"].forEach(function (name) {
      const address = symbol(module, name, withSymbols);
      if (address === null) {
        return;
      }
      const api = module.name + "!" + name;
      hooked.add(address.toString());
      keep.push(Interceptor.attach(address, {
        onEnter: function (args) {
          args[2] = verifyWrapper(library, api, args[2]);
        },
      }));
      Unpin.announce(library, api, 1);
    });
    const chain = symbol(module, "ssl_crypto_x509_session_verify_cert_chain", withSymbols);
    if (chain !== null) {
      const api = module.name + "!ssl_crypto_x509_session_verify_cert_chain";
      hooked.add(chain.toString());
      const original = new NativeFunction(chain, "int", ["pointer", "pointer", "pointer"]);
      const replacement = new NativeCallback(function (session, hs, outAlert) {
        if (original(session, hs, outAlert) !== 1) {
          Unpin.bypassed(library, api, null);
        }
        return 1;
      }, "int", ["pointer", "pointer", "pointer"]);
      keep.push(replacement);
      Interceptor.replace(chain, replacement);
      Unpin.announce(library, api, 1);
    }
  }

  function byPattern(module) {
    const library = "boringssl-pattern";
    if (FLUTTER_MODULES.indexOf(module.name) < 0) {
      return;
    }
    const patterns = FLUTTER_PATTERNS[Process.arch] || [];
    const thumb = Process.arch === "arm" ? 1 : 0;
    let found = 0;
    module.enumerateRanges("r-x").forEach(function (range) {
      patterns.forEach(function (pattern) {
        Memory.scanSync(range.base, range.size, pattern).forEach(function (match) {
          const address = match.address.add(thumb);
          if (hooked.has(address.toString())) {
            return;
          }
          hooked.add(address.toString());
          const api = module.name + "!ssl_verify_peer_cert@0x" + match.address.sub(module.base).toString(16);
          const original = new NativeFunction(address, "int", ["pointer"]);
          const replacement = new NativeCallback(function (hs) {
            if (original(hs) !== SSL_VERIFY_OK) {
              Unpin.bypassed(library, api, null);
            }
            return SSL_VERIFY_OK;
          }, "int", ["pointer"]);
          keep.push(replacement);
          Interceptor.replace(address, replacement);
          Unpin.announce(library, api, 1);
          found++;
        });
      });
    });
    if (found === 0) {
      Lab.reportOnce("hook:unavailable", module.name + "!ssl_verify_peer_cert",
        "no known pattern of ssl_verify_peer_cert for " + Process.arch + " in " + module.name);
    }
  }

  function install(config) {
    const symbols = Unpin.wanted(config, "boringssl-symbol");
    const patterns = Unpin.wanted(config, "boringssl-pattern");
    if (!symbols && !patterns) {
      return;
    }
    function visit(module) {
      try {
        if (symbols) {
          bySymbol(module);
        }
        if (patterns) {
          byPattern(module);
        }
      } catch (e) {
        Lab.reportOnce("hook:error", module.name + " (unpin)", e.stack || String(e));
      }
    }
    keep.push(Process.attachModuleObserver({ onAdded: visit }));
  }

  return { install: install };
})();

/* --- Java ----------------------------------------------------------------------------------- */

const JavaUnpin = (function () {
  const CHAIN_ARRAY = "[Ljava.security.cert.X509Certificate;";
  const LIST_TYPES = ["java.util.List", "java.util.Collection", "java.util.ArrayList"];
  const CONSCRYPT = ["com.android.org.conscrypt.TrustManagerImpl", "org.conscrypt.TrustManagerImpl"];

  function tryUse(name, factory) {
    try {
      return factory === undefined ? Lab.useClass(name) : factory.use(name);
    } catch (e) {
      return null;
    }
  }

  /* What a bypassed trust check returns: nothing for void, true for boolean, the chain it was
   * given (a new ArrayList of the first X509Certificate[] or List argument) for a List, the
   * chain array for an array. */
  function chainResult(overload, args) {
    const type = overload.returnType.className;
    if (type === "void") {
      return undefined;
    }
    if (type === "boolean") {
      return true;
    }
    const types = overload.argumentTypes;
    for (let i = 0; i !== types.length; i++) {
      const arg = types[i].className;
      if (arg === CHAIN_ARRAY && (LIST_TYPES.indexOf(type) >= 0) && args[i] !== null) {
        const list = Java.use("java.util.ArrayList").$new();
        for (let j = 0; j !== args[i].length; j++) {
          list.add(args[i][j]);
        }
        return list;
      }
      if (arg === CHAIN_ARRAY && type === CHAIN_ARRAY) {
        return args[i];
      }
      if (LIST_TYPES.indexOf(arg) >= 0 && LIST_TYPES.indexOf(type) >= 0 && args[i] !== null) {
        return Java.use("java.util.ArrayList").$new.overload("java.util.Collection").call(
          Java.use("java.util.ArrayList"), args[i]);
      }
    }
    return LIST_TYPES.indexOf(type) >= 0 ? Java.use("java.util.ArrayList").$new() : null;
  }

  /* Every overload of klass[method] accepts, returning chainResult; host from hostArg. */
  function acceptAll(library, klass, name, method) {
    if (klass[method] === undefined) {
      return 0;
    }
    const api = name + "." + method;
    const overloads = klass[method].overloads;
    overloads.forEach(function (overload) {
      overload.implementation = function () {
        Unpin.bypassed(library, api, hostArgument(overload, arguments));
        return chainResult(overload, arguments);
      };
    });
    Unpin.announce(library, api, overloads.length);
    return overloads.length;
  }

  function hostArgument(overload, args) {
    const types = overload.argumentTypes;
    for (let i = types.length - 1; i >= 0; i--) {
      if (types[i].className === "java.lang.String" && args[i] !== null && String(args[i]).indexOf(".") > 0) {
        return String(args[i]);
      }
    }
    return null;
  }

  function okhttp(config) {
    const klass = tryUse("okhttp3.CertificatePinner");
    if (klass === null) {
      Lab.reportOnce("hook:unavailable", "okhttp3.CertificatePinner.check", "okhttp3.CertificatePinner not found");
      return;
    }
    ["check", "check$okhttp"].forEach(function (method) {
      if (klass[method] === undefined) {
        return;
      }
      const api = "okhttp3.CertificatePinner." + method;
      const overloads = klass[method].overloads;
      overloads.forEach(function (overload) {
        overload.implementation = function () {
          Unpin.bypassed("okhttp3", api, arguments.length > 0 ? String(arguments[0]) : null);
          return overload.returnType.className === "void" ? undefined : null;
        };
      });
      Unpin.announce("okhttp3", api, overloads.length);
    });
  }

  function conscrypt(patched) {
    let found = false;
    CONSCRYPT.forEach(function (name) {
      const klass = tryUse(name);
      if (klass === null) {
        return;
      }
      found = true;
      patched.add(name);
      ["checkServerTrusted", "getTrustedChainForServer", "checkTrustedRecursive", "verifyChain"].forEach(
        function (method) { acceptAll("conscrypt", klass, name, method); });
    });
    if (!found) {
      Lab.reportOnce("hook:unavailable", "conscrypt", "no Conscrypt TrustManagerImpl in this process");
    }
  }

  function certificateTransparency() {
    let found = 0;
    ["com.android.org.conscrypt.ct.CertificateTransparency", "org.conscrypt.ct.CertificateTransparency"]
      .forEach(function (name) {
        const klass = tryUse(name);
        if (klass !== null && klass.checkCT !== undefined) {
          const api = name + ".checkCT";
          klass.checkCT.overloads.forEach(function (overload) {
            overload.implementation = function () {
              Unpin.bypassed("conscrypt-ct", api, hostArgument(overload, arguments));
            };
          });
          Unpin.announce("conscrypt-ct", api, klass.checkCT.overloads.length);
          found++;
        }
      });
    ["com.android.org.conscrypt.ct.PolicyImpl", "org.conscrypt.ct.PolicyImpl",
      "com.android.org.conscrypt.ct.CTPolicyImpl", "org.conscrypt.ct.CTPolicyImpl"].forEach(function (name) {
      const klass = tryUse(name);
      if (klass === null || klass.doesResultConformToPolicy === undefined) {
        return;
      }
      const api = name + ".doesResultConformToPolicy";
      klass.doesResultConformToPolicy.overloads.forEach(function (overload) {
        const type = overload.returnType.className;
        const comply = type === "boolean" ? true : Java.use(type).COMPLY.value;
        overload.implementation = function () {
          Unpin.bypassed("conscrypt-ct", api, null);
          return comply;
        };
      });
      Unpin.announce("conscrypt-ct", api, klass.doesResultConformToPolicy.overloads.length);
      found++;
    });
    CONSCRYPT.forEach(function (name) {
      const klass = tryUse(name);
      if (klass !== null && klass.checkCT !== undefined) {
        found += acceptAll("conscrypt-ct", klass, name, "checkCT") > 0 ? 1 : 0;
      }
    });
    if (found === 0) {
      Lab.reportOnce("hook:unavailable", "conscrypt-ct", "no Certificate Transparency classes (before Android 16?)");
    }
  }

  /* Loaded classes implementing (or extending) each of `bases`: {base: [names]}. */
  function loadedSubclasses(bases) {
    const env = Java.vm.getEnv();
    const handles = bases.map(function (base) { return Java.use(base).class.$h; });
    const out = {};
    bases.forEach(function (base) { out[base] = []; });
    Java.enumerateLoadedClasses({
      onMatch: function (name, handle) {
        if (handle === undefined || name.startsWith("[")) {
          return;
        }
        for (let i = 0; i !== bases.length; i++) {
          if (name !== bases[i] && env.isAssignableFrom(handle, handles[i])) {
            out[bases[i]].push(name);
          }
        }
      },
      onComplete: function () {},
    });
    return out;
  }

  /* Patch `name` once: concrete classes only; `declared` limits it to classes declaring
   * `method` themselves (an inherited one is patched where it is declared). */
  function patchClass(patched, library, name, factory, method, makeImpl, declared) {
    if (patched.has(name)) {
      return;
    }
    patched.add(name);
    try {
      const klass = factory.use(name);
      const Modifier = Java.use("java.lang.reflect.Modifier");
      const modifiers = klass.class.getModifiers();
      if (Modifier.isInterface(modifiers) || klass[method] === undefined) {
        return;
      }
      if (declared && !klass.class.getDeclaredMethods().some(function (m) { return m.getName() === method; })) {
        return;
      }
      if (!declared && Modifier.isAbstract(modifiers)) {
        return;
      }
      const api = name + "." + method;
      const overloads = klass[method].overloads;
      overloads.forEach(function (overload) { overload.implementation = makeImpl(api, overload); });
      Unpin.announce(library, api, overloads.length);
    } catch (e) {
      Lab.reportOnce("hook:error", name + "." + method, String(e.message || e));
    }
  }

  /* A class handed over inside a hook, patched from the script's own thread: there a class
   * lookup goes through the app's class loader (inside a hooked JDK method, JNI's FindClass
   * would use the boot loader, which does not see app classes). The call that handed it over
   * runs unpatched; the next ones are patched. */
  function later(patched, library, name, method, makeImpl, declared) {
    if (patched.has(name)) {
      return;
    }
    setTimeout(function () {
      Java.perform(function () {
        patchClass(patched, library, name, Java.classFactory, method, makeImpl, declared);
      });
    }, 0);
  }

  function trustManagerImpl(api, overload) {
    return function () {
      Unpin.bypassed("trustmanager", api, hostArgument(overload, arguments));
      return chainResult(overload, arguments);
    };
  }

  function hostnameImpl(api, overload) {
    return function () {
      Unpin.bypassed("hostname-verifier", api, arguments.length > 0 ? String(arguments[0]) : null);
      return overload.returnType.className === "boolean" ? true : undefined;
    };
  }

  function webviewImpl(api, overload) {
    return function (view, handler, error) {
      Unpin.bypassed("webview", api, error === null || error === undefined ? null : String(error.getUrl()));
      handler.proceed();
    };
  }

  function install(config) {
    const patched = new Set();
    const want = function (library) { return Unpin.wanted(config, library); };
    if (want("okhttp3")) {
      okhttp(config);
    }
    if (want("conscrypt")) {
      conscrypt(patched);
    } else {
      CONSCRYPT.forEach(function (name) { patched.add(name); });  /* not the trustmanager bypass's */
    }
    if (want("conscrypt-ct")) {
      certificateTransparency();
    }
    const bases = [];
    if (want("trustmanager")) {
      bases.push("javax.net.ssl.X509TrustManager");
    }
    if (want("hostname-verifier")) {
      bases.push("javax.net.ssl.HostnameVerifier");
    }
    const webview = want("webview") ? tryUse("android.webkit.WebViewClient") : null;
    if (webview !== null) {
      bases.push("android.webkit.WebViewClient");
      patchClass(patched, "webview", "android.webkit.WebViewClient", Java.classFactory, "onReceivedSslError",
        webviewImpl, true);
    } else if (want("webview")) {
      Lab.reportOnce("hook:unavailable", "android.webkit.WebViewClient.onReceivedSslError", "no WebView classes");
    }
    const found = bases.length > 0 ? loadedSubclasses(bases) : {};
    (found["javax.net.ssl.X509TrustManager"] || []).forEach(function (name) {
      patchClass(patched, "trustmanager", name, Java.classFactory, "checkServerTrusted", trustManagerImpl, false);
    });
    (found["javax.net.ssl.HostnameVerifier"] || []).forEach(function (name) {
      patchClass(patched, "hostname-verifier", name, Java.classFactory, "verify", hostnameImpl, false);
    });
    (found["android.webkit.WebViewClient"] || []).forEach(function (name) {
      patchClass(patched, "webview", name, Java.classFactory, "onReceivedSslError", webviewImpl, true);
    });

    /* Classes that load later are patched when they are handed over. */
    if (want("trustmanager")) {
      Lab.hookJava("javax.net.ssl.SSLContext", "init", function (api, ret, args) {
        const managers = args[1];
        for (let i = 0; managers !== null && managers !== undefined && i !== managers.length; i++) {
          if (managers[i] !== null) {
            later(patched, "trustmanager", managers[i].$className, "checkServerTrusted", trustManagerImpl, false);
          }
        }
      });
    }
    if (want("hostname-verifier")) {
      const handedOver = function (api, ret, args) {
        if (args[0] !== null && args[0] !== undefined) {
          later(patched, "hostname-verifier", args[0].$className, "verify", hostnameImpl, false);
        }
      };
      ["setDefaultHostnameVerifier", "setHostnameVerifier"].forEach(function (method) {
        Lab.hookJava("javax.net.ssl.HttpsURLConnection", method, handedOver);
      });
      if (tryUse("okhttp3.OkHttpClient$Builder") !== null) {
        Lab.hookJava("okhttp3.OkHttpClient$Builder", "hostnameVerifier", handedOver);
      }
    }
    if (webview !== null) {
      Lab.hookJava("android.webkit.WebView", "setWebViewClient", function (api, ret, args) {
        if (args[0] !== null && args[0] !== undefined) {
          later(patched, "webview", args[0].$className, "onReceivedSslError", webviewImpl, true);
        }
      });
    }
  }

  return { install: install };
})();

Lab.register({
  name: "unpin",
  native: function (config) {
    NativeUnpin.install(config);
    return Unpin.applied;
  },
  java: function (config) {
    JavaUnpin.install(config);
    return Unpin.applied;
  },
});
