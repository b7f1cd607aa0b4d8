"""IP address -> country from several offline sources (iptocc, geoip2fast, an optional
MaxMind file, lab overrides), the organisation behind it (orgs.csv), and a confidence."""

from harness.geo.locate import Confidence, GeoAnswer, GeoLocator, special_label

__all__ = ["Confidence", "GeoAnswer", "GeoLocator", "special_label"]
