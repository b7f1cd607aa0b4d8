/*
 * javacontext.js: who called a hooked Java method, loaded after protocol.js. Adds to Lab:
 *   emitJava        a hook event as a compact row (protocol.js), with the calling thread's
 *                   name and Java stack sent once per distinct value (definitions);
 *   javaContext, javaContextIfAttached   the same thread name and stack as plain values;
 *   javaStackMode   "jvmti" or "jni": how stacks are identified in this process.
 *
 * On a JVM with JVMTI, java_sites.c (a CModule, source in config.javaSitesCModule) keys the
 * calling thread's stack by its frames, (method, bytecode location) each, and its name byte
 * for byte, in about a microsecond; the frames' text is computed, with Thread.getStackTrace,
 * only for a stack not seen before. Elsewhere (ART without the JVMTI plugin, or the CModule
 * failing) every event takes the Thread.getStackTrace path. Either way a stack is
 * `stackDepth` frames, innermost first, the hooked method's own first.
 */

Object.assign(Lab, (function () {
  const config = Lab.config;
  const TWO_24 = 16777216;
  let jni = null;
  let sites;  /* the CModule, null without one; undefined until the first use */
  const threadRefs = [];  /* CModule thread id -> ref (an interned id, or the name inline) */
  const stackRefs = [];  /* CModule stack id -> ref (an interned id, or the frames inline) */
  const threadValues = [];  /* interned id -> name */
  const stackValues = [];  /* interned id -> frames */
  /* takeRefs' result. Set at its very end: the JNI path lets other threads run JavaScript
   * while it calls into the JVM, and they use takeRefs too. */
  let refThread = null;
  let refStack = null;
  let emptyStack;  /* the ref of [] (stackDepth 0) */

  /* Raw JNI handles for the Thread.getStackTrace path: no wrappers. */
  function helpers(env) {
    if (jni === null) {
      const global = function (ref) {
        const g = env.newGlobalRef(ref);
        env.deleteLocalRef(ref);
        return g;
      };
      const threadClass = global(env.findClass("java/lang/Thread"));
      const arraysClass = global(env.findClass("java/util/Arrays"));
      jni = {
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
    return jni;
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

  /* Thread name (withName) and Java stack (withStack) of the calling thread, through JNI. */
  function slowContext(env, withName, withStack) {
    const h = helpers(env);
    const handle = env.handle;
    env.pushLocalFrame(8);
    try {
      const thread = h.callStatic0(handle, h.threadClass, h.currentThread);
      env.throwIfExceptionPending();
      let stack = [];
      if (withStack && config.stackDepth > 0) {
        const frames = h.call0(handle, thread, h.getStackTrace);
        env.throwIfExceptionPending();
        const text = h.callStatic1(handle, h.arraysClass, h.arrayToString, frames);
        env.throwIfExceptionPending();
        stack = parseFrames(env.stringFromJni(text));
      }
      let name = null;
      if (withName) {
        const string = h.call0(handle, thread, h.getName);
        env.throwIfExceptionPending();
        name = env.stringFromJni(string);
      }
      return { thread: name, stack: stack };
    } finally {
      env.popLocalFrame(NULL);
    }
  }

  /* A NUL-terminated modified UTF-8 string (JVMTI's) -> the Java string it encodes. */
  function modifiedUtf8(pointer) {
    const bytes = [];
    for (let b = pointer.readU8(); b !== 0 && bytes.length < 65536; b = pointer.add(bytes.length).readU8()) {
      bytes.push(b);
    }
    let text = "";
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      if (b < 0x80) {
        text += String.fromCharCode(b);
      } else if ((b & 0xe0) === 0xc0) {
        text += String.fromCharCode(((b & 0x1f) << 6) | (bytes[++i] & 0x3f));
      } else {
        text += String.fromCharCode(((b & 0x0f) << 12) | ((bytes[i + 1] & 0x3f) << 6) | (bytes[i + 2] & 0x3f));
        i += 2;
      }
    }
    return text;
  }

  function openSites() {
    if (typeof config.javaSitesCModule !== "string" || Java === null) {
      return null;
    }
    try {
      const state = Memory.alloc(64);
      const key = Memory.alloc(8 + 16 * 1024);
      const module = new CModule(config.javaSitesCModule, { lab_sites: state, lab_sites_key: key });
      /* JVMTI may raise the JVM's own signals (safepoint polls): let the JVM handle them.
       * Exclusive: the JavaScript lock stays held, so one thread at a time is in the module. */
      const options = { exceptions: "propagate", scheduling: "exclusive" };
      const open = new NativeFunction(module.lab_sites_open, "int", ["pointer"], options);
      if (open(Java.vm.handle) !== 0) {
        return null;
      }
      const handle = {
        memory: [state, key, module],
        take: new NativeFunction(module.lab_sites_take, "double", ["int"], options),
        name: new NativeFunction(module.lab_sites_thread_name, "pointer", ["uint"], options),
        close: new NativeFunction(module.lab_sites_close, "void", [], options),
      };
      Script.bindWeak(handle, function () { handle.close(); });
      return handle;
    } catch (e) {
      Lab.reportOnce("hook:error", "java stacks (CModule)", String(e.message || e));
      return null;
    }
  }

  function internThread(name) {
    if (name === null) {
      return null;
    }
    const id = Lab.intern("thread", name, name);
    if (id === null) {
      return name;
    }
    threadValues[id] = name;
    return id;
  }

  function internStack(frames) {
    const id = Lab.intern("stack", frames.join("\n"), frames);
    if (id === null) {
      return frames;
    }
    stackValues[id] = frames;
    return id;
  }

  /* Sets refThread and refStack for the calling Java thread. */
  function takeRefs(env) {
    const withStack = config.stackDepth > 0;
    if (sites === undefined) {
      sites = openSites();
    }
    const packed = sites === null ? -1 : sites.take(withStack ? 1 : 0);
    let thread;
    let stack;
    if (packed < 0) {
      const context = slowContext(env || Java.vm.getEnv(), true, true);
      thread = internThread(context.thread);
      stack = internStack(context.stack);
    } else {
      const t = Math.floor(packed / TWO_24);
      const s = packed - t * TWO_24;
      thread = threadRefs[t];
      if (t === 0) {
        thread = internThread(slowContext(env || Java.vm.getEnv(), true, false).thread);
      } else if (thread === undefined) {
        thread = threadRefs[t] = internThread(modifiedUtf8(sites.name(t)));
      }
      if (!withStack && emptyStack === undefined) {
        emptyStack = internStack([]);
      }
      stack = withStack ? stackRefs[s] : emptyStack;
      if (stack === undefined || (withStack && s === 0)) {
        stack = internStack(slowContext(env || Java.vm.getEnv(), false, true).stack);
        if (s !== 0) {
          stackRefs[s] = stack;
        }
      }
    }
    refThread = thread;
    refStack = stack;
  }

  /* A hook event of `site` (Lab.site) as a row: [site, ts, value, thread, stack(, extra)]. */
  function emitJava(site, value, extra) {
    if (!Lab.enabled) {
      return;
    }
    takeRefs(undefined);
    const row = [site, Date.now() / 1000, value, refThread, refStack];
    if (extra !== undefined) {
      row.push(extra);
    }
    Lab.emit(row);
  }

  /* Thread name and Java stack (innermost first) of the calling Java thread. */
  function javaContext(env) {
    takeRefs(env);
    return {
      thread: typeof refThread === "number" ? threadValues[refThread] : refThread,
      stack: typeof refStack === "number" ? stackValues[refStack] : refStack,
    };
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

  /* How stacks are identified: "jvmti" (java_sites.c) or "jni" (Thread.getStackTrace). */
  function javaStackMode() {
    if (sites === undefined) {
      sites = openSites();
    }
    return sites !== null ? "jvmti" : "jni";
  }

  return {
    emitJava: emitJava,
    javaContext: javaContext,
    javaContextIfAttached: javaContextIfAttached,
    javaStackMode: javaStackMode,
  };
})());
