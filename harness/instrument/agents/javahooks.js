/*
 * javahooks.js: installing Java hooks, loaded after protocol.js and javacontext.js. Adds to
 * Lab: whenJava (installs the parts' Java hooks once the runtime is there), useClass (class
 * lookup across class loaders), hookJava and replaceJava.
 */

Object.assign(Lab, (function () {
  const config = Lab.config;
  let loaders = null;

  function knownLoaders() {
    if (loaders === null) {
      loaders = [];
      try {
        Java.enumerateClassLoaders({
          onMatch: function (loader) { loaders.push(loader); },
          onComplete: function () {},
        });
      } catch (e) {
        loaders = [];
      }
    }
    return loaders;
  }

  /* Java.use with the default loader, then with each class loader of the process (app classes). */
  function useClass(name) {
    try {
      return Java.use(name);
    } catch (e) {
      for (const loader of knownLoaders()) {
        try {
          loader.findClass(name);
          return Java.ClassFactory.get(loader).use(name);
        } catch (e2) {
          continue;
        }
      }
      throw e;
    }
  }

  /*
   * Hook every overload of `method` on the first class of `cls` (a name or a list) that has it.
   * onCall(api, ret, args, self, error) runs after the original; returns overloads hooked.
   */
  function hookJava(cls, method, onCall) {
    const names = Array.isArray(cls) ? cls : [cls];
    let klass = null;
    let used = null;
    let reason = "not found";
    for (const name of names) {
      try {
        const candidate = useClass(name);
        if (candidate[method] === undefined) {
          reason = "class " + name + " has no method " + method;
          continue;
        }
        klass = candidate;
        used = name;
        break;
      } catch (e) {
        reason = String(e.message || e);
      }
    }
    if (klass === null) {
      Lab.reportOnce("hook:unavailable", names[0] + "." + method, reason);
      return 0;
    }
    const api = used + "." + method;
    const overloads = klass[method].overloads;
    overloads.forEach(function (overload) {
      overload.implementation = function () {
        let ret;
        let threw = false;
        let thrown = null;
        try {
          ret = overload.apply(this, arguments);
        } catch (error) {
          threw = true; // recorded with the call, then rethrown to the app
          thrown = error;
        }
        if (Lab.enabled) {
          try {
            onCall(api, ret, arguments, this, thrown);
          } catch (e) {
            Lab.reportOnce("hook:error", api, e.stack || String(e));
          }
        }
        if (threw) {
          throw thrown;
        }
        return ret;
      };
    });
    return overloads.length;
  }

  /* Replace every overload of a method; returns overloads replaced (0 and a report when missing). */
  function replaceJava(cls, method, makeImpl) {
    let klass;
    try {
      klass = useClass(cls);
    } catch (e) {
      Lab.reportOnce("hook:unavailable", cls + "." + method, String(e.message || e));
      return 0;
    }
    if (klass[method] === undefined) {
      Lab.reportOnce("hook:unavailable", cls + "." + method, "class " + cls + " has no method " + method);
      return 0;
    }
    const overloads = klass[method].overloads;
    overloads.forEach(function (overload) {
      overload.implementation = makeImpl(overload);
    });
    return overloads.length;
  }

  function installJava(selected, summary) {
    const stacks = Lab.javaStackMode();
    const installed = {};
    selected.forEach(function (part) {
      if (part.java !== undefined) {
        try {
          installed[part.name] = part.java(config);
        } catch (e) {
          Lab.reportOnce("hook:error", part.name, e.stack || String(e));
        }
      }
    });
    summary.java = installed;
    summary.javaStacks = stacks;
    Lab.emit({ type: "agent:ready", ts: Lab.now(), api: "agent", category: "agent",
      value: JSON.stringify(installed), thread: null, stack: [] });
    Lab.flush();
  }

  /* Java hooks once the runtime is there (a spawned app may not have it yet). */
  function whenJava(selected, summary) {
    const deadline = Date.now() + config.javaTimeoutMs;
    function attempt() {
      let available = false;
      try {
        available = Java !== null && Java.available;
      } catch (e) {
        available = false;
      }
      if (available) {
        Java.perform(function () { installJava(selected, summary); });
      } else if (Date.now() > deadline) {
        Lab.reportOnce("hook:error", "java", "Java runtime not available after " + config.javaTimeoutMs + " ms");
        Lab.flush();
      } else {
        setTimeout(attempt, 50);
      }
    }
    attempt();
  }

  return {
    whenJava: whenJava,
    useClass: useClass,
    hookJava: hookJava,
    replaceJava: replaceJava,
  };
})());
