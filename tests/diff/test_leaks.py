"""`lab diff` on WireGuard-mode captures: a destination reached around the tunnel that the
baseline did not leak to is a regression (policy.regression.new_tunnel_leak)."""

from __future__ import annotations

from support.capture_builder import CaptureBuilder
from support.wireguard_capture import wireguard, write_wireguard

from harness.config.lab import Policy, RegressionPolicy
from harness.diff.compare import diff_captures


def _leaking(tmp_path, name, *leaks):
    b = wireguard(CaptureBuilder(tmp_path / name, run_id=f"run-{name}"))
    for ip, port in leaks:
        b.connect("com.vendor.telemetry", None, ip, port, at=80, api="libc.connect")
    return write_wireguard(b)


def test_a_new_leak_destination_is_a_regression_the_same_one_again_is_not(tmp_path):
    base, new = _leaking(tmp_path, "base"), _leaking(tmp_path, "new", ("198.51.100.77", 8883))
    result = diff_captures([base], [new])
    assert result.exit_code == 1
    (leak,) = result.regressions
    assert (leak.kind, leak.rule, leak.components) == ("new_tunnel_leak", "new_tunnel_leak", ("com.vendor.telemetry",))
    assert "198.51.100.77:8883" in leak.detail
    assert "MASVS-PRIVACY-3" in leak.requirements  # what bypassed_proxy maps to: a connection unread
    assert diff_captures([base], [new], Policy(regression=RegressionPolicy(new_tunnel_leak=False))).exit_code == 0
    # the same leak in the next run is no news; nor is a run that stopped leaking
    again = _leaking(tmp_path, "again", ("198.51.100.77", 8883))
    assert not [c for c in diff_captures([new], [again]).changes if c.kind == "new_tunnel_leak"]
    assert diff_captures([new], [base]).exit_code == 0

