"""Fixtures of the virtual-app tests (tests/support/apps_kit.py): the virtual internet,
an app runner over a small handset state, a plain listening "proxy" socket."""

from support.apps_kit import apps, internet, plain_proxy  # noqa: F401 - fixtures

