/*
 * protocol.js: the message protocol every agent part shares.
 *
 * Loaded first (after frida-tools' Java bridge, when a part needs Java), then javacontext.js
 * and javahooks.js, then the parts the profile asks for (sensitive.js, network.js, unpin.js),
 * into one script per app session. Parts register themselves with Lab.register({name, native, java}).
 *
 * Messages to the host, all through send():
 *   {type: "batch", seq, events: [event or row ...], dropped, defs?}   events buffered here,
 *       sent every FLUSH_MS or MAX_BATCH events; `dropped` counts events lost since the last
 *       batch; `defs` are new definitions, [[kind, id, value] ...], sent once each.
 * Messages from the host, through script.post():
 *   {type: "ack", seq}   the host wrote batch `seq`; at most WINDOW batches are unacknowledged,
 *       so a slow host makes the agent drop (and count) events instead of growing memory.
 * Events: {type, ts, api, category, value, thread, stack, ...}; types: hook:event, hook:error,
 *   hook:unavailable, net:connect, net:resolve, net:request, unpin:applied, unpin:bypassed,
 *   agent:ready. unpin:* events also carry `library` (the bypass: okhttp3, conscrypt,
 *   trustmanager, conscrypt-ct, hostname-verifier, webview, boringssl-symbol,
 *   boringssl-pattern); unpin:applied carries `count` (methods patched), unpin:bypassed `host`.
 * Rows, the compact form of a hot hook's event: [site, ts, value, thread, stack] or
 *   [site, ts, value, thread, stack, {extra fields}]. `site` is the id of a "site" definition
 *   ([type, api, category]); `thread` the id of a "thread" definition (its name) or the name
 *   itself; `stack` the id of a "stack" definition (its frames) or the frames themselves.
 *   A definition always travels in the same batch as the first row that uses it, or earlier.
 */

const Java = (typeof bridge !== "undefined") ? bridge : null;

const Lab = (function () {
  const MAX_BATCH = 500;
  const FLUSH_MS = 50;
  const WINDOW = 64;
  const MAX_PENDING = 20000;
  const MAX_INTERNED = 4096;  /* definitions per kind; past that, values travel inline */

  const config = {
    stackDepth: 24,
    maxValue: 8192,
    nativeBacktrace: false,
    javaTimeoutMs: 15000,
    parts: [],
    unpinLibraries: null,  /* unpin.js: the bypasses to apply, by library (null: all) */
  };
  const parts = [];
  const sources = [];
  const enabledListeners = [];  /* drain functions of binary producers, called on every flush */
  const pendingCounters = [];  /* functions returning what a producer still holds */
  const counts = { emitted: 0, sent: 0, dropped: 0, batches: 0, acked: 0 };
  const reported = new Set();
  const threadNames = new Map();
  const interned = new Map();  /* kind -> Map(key -> id) */
  let defs = [];  /* definitions not sent yet */
  let buffer = [];
  let seq = 0;
  let acked = 0;
  let unreportedDrops = 0;
  let enabled = true;
  let timer = null;

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

  /* The id of `value` among the definitions of `kind` (`key` identifies it); the definition is
   * sent with the next batch. null once MAX_INTERNED definitions of that kind exist. */
  function intern(kind, key, value) {
    let table = interned.get(kind);
    if (table === undefined) {
      table = new Map();
      interned.set(kind, table);
    }
    let id = table.get(key);
    if (id === undefined) {
      if (table.size >= MAX_INTERNED) {
        return null;
      }
      id = table.size + 1;
      table.set(key, id);
      defs.push([kind, id, value]);
    }
    return id;
  }

  /* The id of an event site: what every row of a hook shares. */
  function site(type, api, category) {
    const key = type + "\u0000" + api + "\u0000" + category;
    const id = intern("site", key, [type, api, category]);
    if (id === null) {
      throw new Error("too many event sites");
    }
    return id;
  }

  function flush() {
    sources.forEach(function (drain) { drain(); });
    while ((buffer.length > 0 || unreportedDrops > 0) && seq - acked < WINDOW) {
      const events = buffer.length <= MAX_BATCH ? buffer : buffer.splice(0, MAX_BATCH);
      if (events === buffer) {
        buffer = [];
      }
      seq++;
      const message = { type: "batch", seq: seq, events: events, dropped: unreportedDrops };
      if (defs.length > 0) {
        message.defs = defs;
        defs = [];
      }
      send(message);
      unreportedDrops = 0;
      counts.sent += events.length;
      counts.batches++;
    }
  }

  /* An ack sends at once only what a full window held back (or a full batch): otherwise a
   * fast host would turn every ack into a tiny batch, and per-batch costs would dominate. */
  function onAck(message) {
    const wasFull = !windowOpen();
    if (typeof message.seq === "number" && message.seq > acked) {
      acked = message.seq;
      counts.acked = acked;
    }
    recv("ack", onAck);
    if (wasFull || buffer.length >= MAX_BATCH) {
      flush();
    }
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

  function register(part) {
    parts.push(part);
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
    if (needsJava && (Java === null || Lab.whenJava === undefined)) {
      reportOnce("hook:unavailable", "java", "script loaded without the Java bridge or javahooks.js");
      needsJava = false;
    }
    if (needsJava) {
      Lab.whenJava(selected, summary);  /* javahooks.js */
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
    intern: intern,
    site: site,
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
