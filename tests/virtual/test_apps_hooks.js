/*
 * Test agent for the virtual apps (loaded after frida-tools' bridges/java.js, which
 * defines `bridge`). rpc.hookImei(): every TelephonyManager.getImei overload reports
 * {api, value, n, stack} and returns "HOOKED-<n>" so each call is traceable in traffic.
 * rpc.unpin(): okhttp3.CertificatePinner.check becomes a no-op.
 */
const Java = bridge;
let calls = 0;

function stack() {
  const frames = Java.use("java.lang.Thread").currentThread().getStackTrace();
  const out = [];
  for (let i = 0; i < frames.length; i++) {
    out.push(frames[i].getClassName() + "." + frames[i].getMethodName());
  }
  return out;
}

rpc.exports = {
  hookImei() {
    return new Promise((resolve) => {
      Java.perform(() => {
        const TM = Java.use("android.telephony.TelephonyManager");
        TM.getImei.overloads.forEach((o) => {
          o.implementation = function () {
            const value = o.apply(this, arguments);
            const n = ++calls;
            send({ type: "hook:event", api: "TelephonyManager.getImei", value: value, n: n, stack: stack() });
            return "HOOKED-" + n;
          };
        });
        resolve(TM.getImei.overloads.length);
      });
    });
  },
  unpin() {
    return new Promise((resolve) => {
      Java.perform(() => {
        const P = Java.use("okhttp3.CertificatePinner");
        P.check.overloads.forEach((o) => {
          o.implementation = function (host) {
            send({ type: "hook:event", api: "okhttp3.CertificatePinner.check", value: String(host) });
          };
        });
        resolve(P.check.overloads.length);
      });
    });
  },
};
