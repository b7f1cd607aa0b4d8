"""Where the harness puts things on a handset, and the ports it uses there: named once,
for the devices layer, the Frida layer and the analysis that tells tool traffic apart."""

FRIDA_SERVER_PATH = "/data/local/tmp/frida-server"
FRIDA_SERVER_BACKUP_PATH = FRIDA_SERVER_PATH + ".lab-backup"  # a binary that was there before
FRIDA_SERVER_PORT = 27042  # frida-server's default listening port
FRIDA_SERVER_PORTS = frozenset({FRIDA_SERVER_PORT, FRIDA_SERVER_PORT + 1})  # and its helper
ADB_SERVER_PORT = 5037
