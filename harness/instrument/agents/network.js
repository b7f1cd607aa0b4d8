/*
 * network.js: which code opened which connection.
 *
 * Native: libc connect() (AF_INET / AF_INET6 -> ip, port) -> net:connect, and getaddrinfo()
 * (plus bionic's android_getaddrinfofornet*) -> net:resolve with the host and the addresses
 * it resolved to. Java: java.net.Socket.connect (InetSocketAddress: host as the app gave it)
 * -> net:connect, okhttp3.OkHttpClient.newCall -> net:request. A native event made on a
 * Java thread carries the Java stack; native backtraces only when config.nativeBacktrace.
 */

const keep = [];  /* CModule and callbacks must outlive install() */

Lab.register({
  name: "network",
  native: function (config) {
    const AF_INET = 2;
    const AF_INET6 = 10;
    const bionic = Process.findModuleByName("libc.so.6") === null;
    const pointerSize = Process.pointerSize;
    /* struct addrinfo: glibc puts ai_addr before ai_canonname, bionic (BSD) after. */
    const alignedHead = pointerSize === 8 ? 24 : 20;
    const aiAddr = bionic ? alignedHead + pointerSize : alignedHead;
    const aiNext = alignedHead + 2 * pointerSize;

    function hex16(b, i) {
      return ((b[i] << 8) | b[i + 1]).toString(16);
    }

    function ipv6(b) {
      const mapped = b.slice(0, 10).every(function (x) { return x === 0; }) && b[10] === 0xff && b[11] === 0xff;
      if (mapped) {
        return b[12] + "." + b[13] + "." + b[14] + "." + b[15];
      }
      const groups = [];
      for (let i = 0; i !== 16; i += 2) {
        groups.push(hex16(b, i));
      }
      /* compress the longest run of zero groups (RFC 5952) */
      let bestStart = -1;
      let bestLen = 0;
      for (let i = 0; i < 8;) {
        if (groups[i] !== "0") {
          i++;
          continue;
        }
        let j = i;
        while (j < 8 && groups[j] === "0") {
          j++;
        }
        if (j - i > bestLen && j - i > 1) {
          bestStart = i;
          bestLen = j - i;
        }
        i = j;
      }
      if (bestStart < 0) {
        return groups.join(":");
      }
      const head = groups.slice(0, bestStart).join(":");
      const tail = groups.slice(bestStart + bestLen).join(":");
      return head + "::" + tail;
    }

    /* sockaddr -> {ip, port} for AF_INET / AF_INET6, null for anything else. */
    function sockaddr(address) {
      if (address.isNull()) {
        return null;
      }
      const family = address.readU16();
      if (family === AF_INET) {
        const b = new Uint8Array(address.readByteArray(8));
        return { ip: b[4] + "." + b[5] + "." + b[6] + "." + b[7], port: (b[2] << 8) | b[3] };
      }
      if (family === AF_INET6) {
        const b = new Uint8Array(address.readByteArray(24));
        return { ip: ipv6(b.slice(8, 24)), port: (b[2] << 8) | b[3] };
      }
      return null;
    }

    function context(ctx) {
      const java = Lab.javaContextIfAttached();
      if (java !== null) {
        return java;
      }
      return { thread: Lab.threadName(), stack: Lab.nativeStack(ctx) };
    }

    function connectEvent(peer, where) {
      Lab.emit({
        type: "net:connect", ts: Lab.now(), api: "libc.connect", category: "network",
        value: peer.ip + ":" + peer.port, host: null, ip: peer.ip, port: peer.port,
        thread: where.thread, stack: where.stack,
      });
    }

    /*
     * Fast path (network_fast.c in a CModule, source handed over by the host in
     * config.connectCModule): records from non-Java threads go through a ring and leave as
     * binary "net:connect" batches; Java threads call back here for the Java stack.
     */
    function installFast(target, source) {
      const CAPACITY = 65536;
      const RECORD = 32;
      const ring = Memory.alloc(CAPACITY * RECORD);
      const state = Memory.alloc(5 * 8);
      const lock = Memory.alloc(64);
      const vmCell = Memory.alloc(Process.pointerSize);
      const out = Memory.alloc(2048 * RECORD);
      for (let i = 0; i !== 64; i += 8) {
        lock.add(i).writeU64(0);
      }
      state.writeU64(0).add(8).writeU64(0).add(8).writeU64(0);
      state.add(24).writeU64(CAPACITY);
      state.add(32).writeU64(Lab.enabled ? 1 : 0);
      let vm = NULL;
      try {
        if (Java !== null && Java.available) {
          vm = Java.vm.handle;
        }
      } catch (e) {
        vm = NULL;
      }
      vmCell.writePointer(vm);
      const onJava = new NativeCallback(function (address) {
        if (!Lab.enabled) {
          return;
        }
        const peer = sockaddr(address);
        if (peer !== null) {
          connectEvent(peer, context(undefined));
        }
      }, "void", ["pointer"]);
      const module = new CModule(source, {
        lab_lock: lock, lab_ring: ring, lab_state: state, lab_java_vm: vmCell,
        lab_on_java_connect: onJava,
      });
      const take = new NativeFunction(module.lab_take, "uint", ["pointer", "uint"]);
      const takeDropped = new NativeFunction(module.lab_take_dropped, "uint64", []);
      Interceptor.attach(target, module);
      Lab.onEnabled(function (on) { state.add(32).writeU64(on ? 1 : 0); });
      const names = {};
      Lab.addSource(function drain() {
        const dropped = takeDropped().toNumber();
        if (dropped > 0) {
          Lab.addDrops(dropped);
        }
        while (Lab.windowOpen()) {
          const n = take(out, 2048);
          if (n === 0) {
            break;
          }
          const bytes = out.readByteArray(n * RECORD);
          const words = new Uint32Array(bytes);
          const threads = {};
          for (let i = 0; i !== n; i++) {
            const tid = words[i * 8 + 2];
            if (threads[tid] === undefined) {
              threads[tid] = names[tid] !== undefined ? names[tid] : (names[tid] = Lab.threadName(tid));
            }
          }
          Lab.sendBinary("records", { kind: "net:connect", api: "libc.connect", count: n, threads: threads },
            bytes, n);
        }
      }, function pending() {
        return state.readU64().sub(state.add(8).readU64()).toNumber();
      });
      return { module: module, onJava: onJava };
    }

    const installed = {};
    const connect = Module.findGlobalExportByName("connect");
    if (connect === null) {
      Lab.reportOnce("hook:unavailable", "libc.connect", "no connect export");
    } else {
      let fast = null;
      if (typeof config.connectCModule === "string") {
        try {
          fast = installFast(connect, config.connectCModule);
        } catch (e) {
          Lab.reportOnce("hook:error", "libc.connect (CModule)", String(e.message || e));
        }
      }
      if (fast !== null) {
        keep.push(fast);
        installed["libc.connect"] = "cmodule";
      } else {
        Interceptor.attach(connect, {
          onEnter: function (args) {
            if (!Lab.enabled) {
              return;
            }
            const peer = sockaddr(args[1]);
            if (peer !== null) {
              connectEvent(peer, context(this.context));
            }
          },
        });
        installed["libc.connect"] = "js";
      }
    }

    function resolved(list) {
      const ips = [];
      let node = list;
      for (let n = 0; !node.isNull() && n < 64; n++) {
        const peer = sockaddr(node.add(aiAddr).readPointer());
        if (peer !== null && ips.indexOf(peer.ip) < 0) {
          ips.push(peer.ip);
        }
        node = node.add(aiNext).readPointer();
      }
      return ips;
    }

    [["getaddrinfo", 3], ["android_getaddrinfofornet", 5], ["android_getaddrinfofornetcontext", 4]].forEach(function (spec) {
      const name = spec[0];
      const resultIndex = spec[1];
      const target = Module.findGlobalExportByName(name);
      if (target === null) {
        if (name === "getaddrinfo") {
          Lab.reportOnce("hook:unavailable", "libc.getaddrinfo", "no getaddrinfo export");
        }
        return;
      }
      Interceptor.attach(target, {
        onEnter: function (args) {
          this.host = (Lab.enabled && !args[0].isNull()) ? args[0].readUtf8String() : null;
          this.result = args[resultIndex];
          if (this.host !== null) {
            this.where = context(this.context);
          }
        },
        onLeave: function (retval) {
          if (this.host === null || !Lab.enabled) {
            return;
          }
          const ips = retval.toInt32() === 0 ? resolved(this.result.readPointer()) : [];
          Lab.emit({
            type: "net:resolve", ts: Lab.now(), api: "libc." + name, category: "network",
            value: ips.join(","), host: this.host, ip: ips.length > 0 ? ips[0] : null, port: null,
            ips: ips, status: retval.toInt32(), thread: this.where.thread, stack: this.where.stack,
          });
        },
      });
      installed["libc." + name] = 1;
    });
    return installed;
  },

  java: function (config) {
    const installed = {};
    const InetSocketAddress = "java.net.InetSocketAddress";
    const socket = Lab.hookJava("java.net.Socket", "connect", function (api, ret, args, self, error) {
      if (args[0] === null || args[0].$className !== InetSocketAddress) {
        return;
      }
      const address = Java.cast(args[0], Lab.useClass(InetSocketAddress));
      const inet = address.getAddress();
      const port = address.getPort();
      const context = Lab.javaContext();
      const event = {
        type: "net:connect", ts: Lab.now(), api: api, category: "network",
        value: String(address.getHostString()) + ":" + port,
        host: String(address.getHostString()), ip: inet === null ? null : String(inet.getHostAddress()),
        port: port, thread: context.thread, stack: context.stack,
      };
      if (error !== null) {
        event.note = "threw: " + String(error.message || error);
      }
      Lab.emit(event);
    });
    if (socket > 0) {
      installed["java.net.Socket.connect"] = socket;
    }
    const okhttp = Lab.hookJava("okhttp3.OkHttpClient", "newCall", function (api, ret, args) {
      const request = args[0];
      let url = null;
      let host = null;
      try {
        const httpUrl = request.url();
        url = String(httpUrl.toString());
        host = String(httpUrl.host());
      } catch (e) {
        url = String(request.toString());
      }
      const context = Lab.javaContext();
      Lab.emit({
        type: "net:request", ts: Lab.now(), api: api, category: "network", value: url,
        host: host, ip: null, port: null, thread: context.thread, stack: context.stack,
      });
    });
    if (okhttp > 0) {
      installed["okhttp3.OkHttpClient.newCall"] = okhttp;
    }
    return installed;
  },
});
