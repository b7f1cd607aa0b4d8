/*
 * bridge_probe.js: lab doctor's check of Frida's Java bridge in one harmless app process.
 * Loaded after frida-tools' Java bridge (bridges/java.js, which defines `bridge`): says
 * whether the bridge is available on this runtime and, if so, uses one Java class
 * through it (System.getProperty), so a bridge broken by an ART update shows here.
 */

const J = (typeof bridge !== "undefined") ? bridge : null;

rpc.exports = {
  probe() {
    if (J === null || !J.available) {
      return {available: false};
    }
    const out = {available: true};
    J.performNow(function () {
      const System = J.use("java.lang.System");
      out.vm = String(System.getProperty("java.vm.name")) + " " + String(System.getProperty("java.vm.version"));
    });
    return out;
  }
};
