"""What a technician finds on a phone before a run, as handset state: the screen and its
keyguard, the lock the user set, the clock, SELinux, free space on /data, a firewall on
the loopback, adb authorisation. `lab doctor` reads them through the shell, as on a phone.

A spec's `faults:` block seeds what cannot be reached through the shell:

    faults:
      adb_unauthorized: true        # adbd answers CNXN with AUTH and never accepts the key
      app_zygote: [org.example.x]   # forked from an app zygote, not a zygote: a CA bound
                                    # into the zygotes' namespaces after it started misses it
      clock_skew: 3600              # seconds the handset's clock is ahead (negative: behind)
      data_free_mb: 120             # free space on /data
      wireguard_blocked: true       # a firewall between the handset and the lab's WireGuard
                                    # port: the tunnel comes up in the WireGuard app, wireguard-go
                                    # runs, and no datagram reaches the endpoint (udp_relay.py)

The rest changes as on a phone: `input keyevent POWER|SLEEP|WAKEUP|MENU`, `wm
dismiss-keyguard`, `locksettings set-disabled|set-pin|clear` (shell/screen.py),
`setenforce 0|1`, `iptables -A|-I|-D OUTPUT -o lo ... -j REJECT|DROP` (shell/network.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DATA_SIZE_KB = 115_249_236  # a 128 GB phone's /data
LockKind = Literal["none", "swipe", "pin"]


class Faults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    adb_unauthorized: bool = False
    app_zygote: list[str] = []
    clock_skew: float = 0.0
    data_free_mb: int = Field(default=103_209, ge=0, le=DATA_SIZE_KB // 1024)
    wireguard_blocked: bool = False


@dataclass
class Conditions:
    faults: Faults
    screen_on: bool = True
    keyguard: bool = False  # the lock screen is showing
    lock: LockKind = "none"  # what the user set: none (no keyguard), swipe, a PIN
    pin: str | None = None
    enforcing: bool = True
    firewall: list[list[str]] = field(default_factory=list)  # iptables OUTPUT rules, as given

    # --- power key and keyguard (PhoneWindowManager's behaviour) ------------------------
    def sleep(self) -> None:
        """Screen off; a set lock (swipe or PIN) shows the keyguard at once."""
        self.screen_on = False
        if self.lock != "none":
            self.keyguard = True

    def wake(self) -> None:
        self.screen_on = True

    def power_key(self) -> None:
        if self.screen_on:
            self.sleep()
        else:
            self.wake()

    def dismiss_keyguard(self) -> bool:
        """`wm dismiss-keyguard` (and MENU on the lock screen): only an insecure keyguard goes;
        a PIN keeps it up (the bouncer asks for the PIN)."""
        if self.keyguard and self.screen_on and self.lock != "pin":
            self.keyguard = False
        return not self.keyguard

    def reboot(self) -> None:
        """After a boot the screen is on, behind the keyguard if a lock is set."""
        self.screen_on = True
        self.keyguard = self.lock != "none"

    @property
    def ready_for_input(self) -> bool:
        return self.screen_on and not self.keyguard

    # --- loopback firewall ----------------------------------------------------------------
    def loopback_blocked(self, port: int) -> bool:
        """Whether an OUTPUT rule on `-o lo` rejects or drops TCP to `port` (no --dport: all)."""
        for rule in self.firewall:
            if "-o" not in rule or rule[rule.index("-o") + 1:rule.index("-o") + 2] != ["lo"]:
                continue
            target = rule[rule.index("-j") + 1] if "-j" in rule and rule.index("-j") + 1 < len(rule) else ""
            if target not in ("REJECT", "DROP"):
                continue
            if "--dport" in rule:
                wanted = rule[rule.index("--dport") + 1:rule.index("--dport") + 2]
                if wanted != [str(port)]:
                    continue
            return True
        return False
