"""The virtual internet: a zone (hostname -> world IP) and local responders (see zone.py)."""
