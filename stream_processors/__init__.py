"""Faust stream processors: the archiver and the warehouse writer, one consumer group each."""
