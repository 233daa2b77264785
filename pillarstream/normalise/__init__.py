"""Normalisation: a delivery (envelope + payload bytes) in, typed fact rows out. Pure functions, no I/O."""

from pillarstream.normalise.dispatch import HANDLED_EVENTS, NORMALISERS, normalise, normaliser_for
from pillarstream.normalise.fields import PayloadError
from pillarstream.normalise.rows import TABLES, Facts

__all__ = ["HANDLED_EVENTS", "NORMALISERS", "TABLES", "Facts", "PayloadError", "normalise", "normaliser_for"]
