/*
 * protocol.js: the message protocol every agent part shares.
 *
 * Loaded first (after frida-tools' Java bridge, when a part needs Java) and concatenated
 * with the parts the profile asks for (sensitive.js, network.js, unpin.js) into one
 * script per app session. Parts register themselves with Lab.register({name, native, java}).
 *
 * Messages to the host, all through send():
 *   {type: "batch", seq, events: [event...], dropped}   events buffered here, sent every
 *       FLUSH_MS or MAX_BATCH events; `dropped` counts events lost since the last batch.
 * Messages from the host, through script.post():
 *   {type: "ack", seq}   the host wrote batch `seq`; at most WINDOW batches are unacknowledged,
 *       so a slow host makes the agent drop (and count) events instead of growing memory.
 * Events: {type, ts, api, category, value, thread, stack, ...}; types: hook:event, hook:error,
 *   hook:unavailable, net:connect, net:resolve, net:request, unpin:applied, unpin:bypassed,
 *   agent:ready.
 */

const Java = (typeof bridge !== "undefined") ? bridge : null;

const Lab = (function () {
  const MAX_BATCH = 500;
  const FLUSH_MS = 50;
  const WINDOW = 64;
  const MAX_PENDING = 20000;

  const config = {
    stackDepth: 24,
    maxValue: 8192,
    nativeBacktrace: false,
    javaTimeoutMs: 15000,
    parts: [],
  };
  const parts = [];
  const sources = [];
  const enabledListeners = [];  /* drain functions of binary producers, called on every flush */
  const pendingCounters = [];  /* functions returning what a producer still holds */
  const counts = { emitted: 0, sent: 0, dropped: 0, batches: 0, acked: 0 };
  const reported = new Set();
  const threadNames = new Map();
  let buffer = [];
  let seq = 0;
  let acked = 0;
  let unreportedDrops = 0;
  let enabled = true;
  let timer = null;
  let javaHelpers = null;
  let loaders = null;

  function now() {
    return Date.now() / 1000;
  }

  function emit(event) {
    if (!enabled) {
      return;
    }
    counts.emitted++;
    if (buffer.length >= MAX_PENDING) {
      counts.dropped++;
      unreportedDrops++;
      return;
    }
    buffer.push(event);
    if (buffer.length >= MAX_BATCH) {
      flush();
    }
  }

  function windowOpen() {
    return seq - acked < WINDOW;
  }

  /* A binary batch (e.g. native records); shares the sequence and the ack window. */
  function sendBinary(kind, fields, bytes, count) {
    seq++;
    send(Object.assign({ type: kind, seq: seq }, fields), bytes);
    counts.emitted += count;
    counts.sent += count;
    counts.batches++;
  }

  function addDrops(count) {
    counts.emitted += count;
    counts.dropped += count;
    unreportedDrops += count;
  }

  function flush() {
    sources.forEach(function (drain) { drain(); });
    while ((buffer.length > 0 || unreportedDrops > 0) && seq - acked < WINDOW) {
      const events = buffer.length <= MAX_BATCH ? buffer : buffer.splice(0, MAX_BATCH);
      if (events === buffer) {
        buffer = [];
      }
      seq++;
      send({ type: "batch", seq: seq, events: events, dropped: unreportedDrops });
      unreportedDrops = 0;
      counts.sent += events.length;
      counts.batches++;
    }
  }

  function onAck(message) {
    if (typeof message.seq === "number" && message.seq > acked) {
      acked = message.seq;
      counts.acked = acked;
    }
    recv("ack", onAck);
    flush();
  }
  recv("ack", onAck);
  timer = setInterval(flush, FLUSH_MS);

  function clip(value) {
    if (value === null || value === undefined) {
      return null;
    }
    const text = String(value);
    return text.length > config.maxValue ? text.substring(0, config.maxValue) + "...[truncated]" : text;
  }

  function reportOnce(type, api, message) {
    const key = type + "|" + api;
    if (reported.has(key)) {
      return;
    }
    reported.add(key);
    emit({ type: type, ts: now(), api: api, category: "agent", value: String(message), thread: null, stack: [] });
  }

  function threadName(threadId) {
    const tid = threadId === undefined ? Process.getCurrentThreadId() : threadId;
    let name = threadNames.get(tid);
    if (name === undefined) {
      try {
        name = File.readAllText("/proc/self/task/" + tid + "/comm").trim();
      } catch (e) {
        name = "tid:" + tid;
      }
      threadNames.set(tid, name);
    }
    return name;
  }

  function nativeStack(context) {
    if (!config.nativeBacktrace || context === undefined) {
      return [];
    }
    return Thread.backtrace(context, Backtracer.FUZZY).slice(0, config.stackDepth).map(function (address) {
      const module = Process.findModuleByAddress(address);
      return module === null ? address.toString() : module.name + "!" + address.sub(module.base);
    });
  }

  /* Raw JNI handles for the stack capture: no wrappers, four JNI calls per event. */
  function helpers(env) {
    if (javaHelpers === null) {
      const global = function (ref) {
        const g = env.newGlobalRef(ref);
        env.deleteLocalRef(ref);
        return g;
      };
      const threadClass = global(env.findClass("java/lang/Thread"));
      const arraysClass = global(env.findClass("java/util/Arrays"));
      javaHelpers = {
        threadClass: threadClass,
        arraysClass: arraysClass,
        currentThread: env.getStaticMethodId(threadClass, "currentThread", "()Ljava/lang/Thread;"),
        getStackTrace: env.getMethodId(threadClass, "getStackTrace", "()[Ljava/lang/StackTraceElement;"),
        getName: env.getMethodId(threadClass, "getName", "()Ljava/lang/String;"),
        arrayToString: env.getStaticMethodId(arraysClass, "toString", "([Ljava/lang/Object;)Ljava/lang/String;"),
        callStatic0: env.staticVaMethod("pointer", []),
        callStatic1: env.staticVaMethod("pointer", ["pointer"]),
        call0: env.vaMethod("pointer", []),
      };
    }
    return javaHelpers;
  }

  /* "java.base/java.lang.Thread.run(Thread.java:833)" -> "java.lang.Thread.run(Thread.java:833)" */
  function cleanFrame(frame) {
    const paren = frame.indexOf("(");
    const head = paren < 0 ? frame : frame.substring(0, paren);
    const slash = head.lastIndexOf("/");
    return slash < 0 ? frame : frame.substring(slash + 1);
  }

  function parseFrames(text) {
    if (text === null || text.length < 2) {
      return [];
    }
    const raw = text.substring(1, text.length - 1).split(", ");
    const frames = [];
    for (let i = 0; i !== raw.length && frames.length < config.stackDepth; i++) {
      const frame = cleanFrame(raw[i]);
      if (frames.length === 0 && (frame.startsWith("java.lang.Thread.getStackTrace(") ||
          frame.startsWith("dalvik.system.VMStack."))) {
        continue;
      }
      frames.push(frame);
    }
    return frames;
  }

  /* Thread name and Java stack (innermost first) of the calling Java thread. */
  function javaContext(env) {
    env = env || Java.vm.getEnv();
    const h = helpers(env);
    const handle = env.handle;
    env.pushLocalFrame(8);
    try {
      const thread = h.callStatic0(handle, h.threadClass, h.currentThread);
      env.throwIfExceptionPending();
      let stack = [];
      if (config.stackDepth > 0) {
        const frames = h.call0(handle, thread, h.getStackTrace);
        env.throwIfExceptionPending();
        const text = h.callStatic1(handle, h.arraysClass, h.arrayToString, frames);
        env.throwIfExceptionPending();
        stack = parseFrames(env.stringFromJni(text));
      }
      const name = h.call0(handle, thread, h.getName);
      env.throwIfExceptionPending();
      return { thread: env.stringFromJni(name), stack: stack };
    } finally {
      env.popLocalFrame(NULL);
    }
  }

  /* Java context when the current thread is a Java thread already; null otherwise. */
  function javaContextIfAttached() {
    if (Java === null || !Java.available) {
      return null;
    }
    const env = Java.vm.tryGetEnv();
    if (env === null) {
      return null;
    }
    try {
      return javaContext(env);
    } catch (e) {
      return null;
    }
  }

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
   * Hook every overload of spec.method on the first class of spec.cls that has it.
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
      reportOnce("hook:unavailable", names[0] + "." + method, reason);
      return 0;
    }
    const api = used + "." + method;
    const overloads = klass[method].overloads;
    overloads.forEach(function (overload) {
      overload.implementation = function () {
        const args = Array.prototype.slice.call(arguments);
        let ret;
        try {
          ret = overload.apply(this, args);
        } catch (error) {
          if (enabled) {
            safeCall(api, onCall, [api, undefined, args, this, error]);
          }
          throw error;
        }
        if (enabled) {
          safeCall(api, onCall, [api, ret, args, this, null]);
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
      reportOnce("hook:unavailable", cls + "." + method, String(e.message || e));
      return 0;
    }
    if (klass[method] === undefined) {
      reportOnce("hook:unavailable", cls + "." + method, "class " + cls + " has no method " + method);
      return 0;
    }
    const overloads = klass[method].overloads;
    overloads.forEach(function (overload) {
      overload.implementation = makeImpl(overload);
    });
    return overloads.length;
  }

  function safeCall(api, fn, args) {
    try {
      fn.apply(null, args);
    } catch (e) {
      reportOnce("hook:error", api, e.stack || String(e));
    }
  }

  function register(part) {
    parts.push(part);
  }

  function installJava(selected, summary) {
    const installed = {};
    selected.forEach(function (part) {
      if (part.java !== undefined) {
        try {
          installed[part.name] = part.java(config);
        } catch (e) {
          reportOnce("hook:error", part.name, e.stack || String(e));
        }
      }
    });
    summary.java = installed;
    emit({ type: "agent:ready", ts: now(), api: "agent", category: "agent", value: JSON.stringify(installed),
      thread: null, stack: [] });
    flush();
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
        reportOnce("hook:error", "java", "Java runtime not available after " + config.javaTimeoutMs + " ms");
        flush();
      } else {
        setTimeout(attempt, 50);
      }
    }
    attempt();
  }

  function init(options) {
    Object.assign(config, options || {});
    const selected = parts.filter(function (p) { return config.parts.indexOf(p.name) >= 0; });
    const summary = { parts: selected.map(function (p) { return p.name; }), native: {}, java: null };
    selected.forEach(function (part) {
      if (part.native !== undefined) {
        try {
          summary.native[part.name] = part.native(config);
        } catch (e) {
          reportOnce("hook:error", part.name, e.stack || String(e));
        }
      }
    });
    let needsJava = selected.some(function (p) { return p.java !== undefined; });
    if (needsJava && Java === null) {
      reportOnce("hook:unavailable", "java", "script loaded without the Java bridge");
      needsJava = false;
    }
    if (needsJava) {
      whenJava(selected, summary);
    }
    summary.pending = needsJava && summary.java === null;
    return summary;
  }

  function stats() {
    return {
      emitted: counts.emitted,
      sent: counts.sent,
      dropped: counts.dropped,
      batches: counts.batches,
      acked: acked,
      pending: buffer.length + pendingCounters.reduce(function (n, f) { return n + f(); }, 0),
      enabled: enabled,
    };
  }

  return {
    config: config,
    emit: emit,
    flush: flush,
    now: now,
    clip: clip,
    reportOnce: reportOnce,
    threadName: threadName,
    nativeStack: nativeStack,
    javaContext: javaContext,
    javaContextIfAttached: javaContextIfAttached,
    useClass: useClass,
    hookJava: hookJava,
    replaceJava: replaceJava,
    register: register,
    init: init,
    stats: stats,
    get enabled() { return enabled; },
    setEnabled: function (value) { enabled = !!value; enabledListeners.forEach(function (f) { f(enabled); }); },
    onEnabled: function (f) { enabledListeners.push(f); },
    addSource: function (drain, pending) { sources.push(drain); pendingCounters.push(pending); },
    windowOpen: windowOpen,
    sendBinary: sendBinary,
    addDrops: addDrops,
    /* Stop emitting, send what the window allows; the host calls again until pending is 0. */
    stop: function () {
      enabled = false;
      enabledListeners.forEach(function (f) { f(false); });
      flush();
      if (stats().pending === 0 && unreportedDrops === 0 && timer !== null) {
        clearInterval(timer);
        timer = null;
      }
    },
  };
})();

rpc.exports = {
  init: function (options) { return Lab.init(options); },
  flush: function () { Lab.flush(); return Lab.stats(); },
  stats: function () { return Lab.stats(); },
  setEnabled: function (value) { Lab.setEnabled(value); return Lab.stats(); },
  stop: function () { Lab.stop(); return Lab.stats(); },
};
