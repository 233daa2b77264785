"""Normalisation: a delivery (envelope + payload bytes) in, typed fact rows out. Pure functions, no I/O."""

from pillarstream.normalise.dispatch import HANDLED_EVENTS, NORMALISERS, normalise, normaliser_for
from pillarstream.normalise.fields import PayloadError
from pillarstream.normalise.rows import FACT_TABLE_NAMES, Facts

__all__ = ["HANDLED_EVENTS", "NORMALISERS", "FACT_TABLE_NAMES", "Facts", "PayloadError", "normalise", "normaliser_for"]
