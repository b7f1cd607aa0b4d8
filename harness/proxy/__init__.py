"""mitmproxy in-process, and what only the proxy path needs: the verdicts a flow carries
and its record, destination classification, flows.mitm written fast, `lab import`.

The addons (addons/) import the helper modules here, and the master (proxy/master.py)
imports the addons: so this package re-exports nothing, and importing one helper never
loads mitmproxy's master. Import `harness.proxy.master.Proxy` to run a proxy."""
