"""Definitions shared across calculations, parsers and work chains (one place per concept)."""
