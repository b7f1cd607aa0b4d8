/*
 * unpin.js: certificate-pinning bypass, loaded only for the packages a profile names.
 *
 * - okhttp3.CertificatePinner.check (every overload, and OkHttp 4's check$okhttp): no-op.
 * - Conscrypt's TrustManagerImpl (platform): checkTrustedRecursive returns an empty chain
 *   list, verifyChain returns the chain it was given.
 * - Every loaded class implementing javax.net.ssl.X509TrustManager (the app's own, and the
 *   runtime's): checkServerTrusted accepts; classes handed to SSLContext.init later too.
 * Emits unpin:applied once per patched method and unpin:bypassed on each check skipped.
 */

Lab.register({
  name: "unpin",
  java: function (config) {
    const applied = {};
    const patched = new Set();

    function bypassed(api, host) {
      const context = Lab.javaContext();
      Lab.emit({
        type: "unpin:bypassed", ts: Lab.now(), api: api, category: "tls", value: host,
        host: host, thread: context.thread, stack: context.stack,
      });
    }

    function announce(api, count) {
      if (count > 0) {
        applied[api] = count;
        Lab.emit({ type: "unpin:applied", ts: Lab.now(), api: api, category: "tls", value: String(count),
          thread: null, stack: [] });
      }
    }

    ["check", "check$okhttp"].forEach(function (method) {
      const api = "okhttp3.CertificatePinner." + method;
      const klass = (function () {
        try {
          return Lab.useClass("okhttp3.CertificatePinner");
        } catch (e) {
          return null;
        }
      })();
      if (klass === null || klass[method] === undefined) {
        if (method === "check") {
          Lab.reportOnce("hook:unavailable", api, "okhttp3.CertificatePinner not found");
        }
        return;
      }
      announce(api, Lab.replaceJava("okhttp3.CertificatePinner", method, function (overload) {
        return function () {
          bypassed(api, arguments.length > 0 ? String(arguments[0]) : null);
          return overload.returnType.className === "void" ? undefined : null;
        };
      }));
    });

    ["com.android.org.conscrypt.TrustManagerImpl", "org.conscrypt.TrustManagerImpl"].forEach(function (cls) {
      let klass;
      try {
        klass = Lab.useClass(cls);
      } catch (e) {
        Lab.reportOnce("hook:unavailable", cls, String(e.message || e));
        return;
      }
      const ArrayList = Java.use("java.util.ArrayList");
      if (klass.checkTrustedRecursive !== undefined) {
        announce(cls + ".checkTrustedRecursive", Lab.replaceJava(cls, "checkTrustedRecursive", function () {
          return function () {
            bypassed(cls + ".checkTrustedRecursive", null);
            return ArrayList.$new();
          };
        }));
      }
      if (klass.verifyChain !== undefined) {
        announce(cls + ".verifyChain", Lab.replaceJava(cls, "verifyChain", function () {
          return function (chain, anchors, host) {
            bypassed(cls + ".verifyChain", host === undefined ? null : String(host));
            return chain;
          };
        }));
      }
    });

    const Modifier = Java.use("java.lang.reflect.Modifier");
    const X509 = Java.use("javax.net.ssl.X509TrustManager");
    const x509Handle = X509.class.$h;

    function patchTrustManager(name, factory) {
      if (patched.has(name) || name === "javax.net.ssl.X509TrustManager") {
        return;
      }
      patched.add(name);
      try {
        const klass = factory.use(name);
        const modifiers = klass.class.getModifiers();
        if (Modifier.isAbstract(modifiers) || Modifier.isInterface(modifiers) || klass.checkServerTrusted === undefined) {
          return;
        }
        const api = name + ".checkServerTrusted";
        const overloads = klass.checkServerTrusted.overloads;
        overloads.forEach(function (overload) {
          overload.implementation = function () {
            bypassed(api, null);
          };
        });
        announce(api, overloads.length);
      } catch (e) {
        Lab.reportOnce("hook:error", name + ".checkServerTrusted", String(e.message || e));
      }
    }

    const env = Java.vm.getEnv();
    const found = [];
    Java.enumerateLoadedClasses({
      onMatch: function (name, handle) {
        if (handle !== undefined && !name.startsWith("[") && env.isAssignableFrom(handle, x509Handle)) {
          found.push(name);
        }
      },
      onComplete: function () {},
    });
    found.forEach(function (name) { patchTrustManager(name, Java.classFactory); });
    if (found.length === 0) {
      Lab.reportOnce("hook:unavailable", "javax.net.ssl.X509TrustManager", "no loaded implementation yet");
    }

    /* Trust managers whose classes load later are patched when handed to SSLContext.init. */
    const JObject = Java.use("java.lang.Object");
    Lab.hookJava("javax.net.ssl.SSLContext", "init", function (api, ret, args) {
      const managers = args[1];
      if (managers === null || managers === undefined) {
        return;
      }
      for (let i = 0; i !== managers.length; i++) {
        const manager = managers[i];
        if (manager === null) {
          continue;
        }
        const loader = Java.cast(manager, JObject).getClass().getClassLoader();
        const factory = loader === null ? Java.classFactory : Java.ClassFactory.get(loader);
        patchTrustManager(manager.$className, factory);
      }
    });
    return applied;
  },
});
