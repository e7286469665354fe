"""Parsers of aiida-ifacerank."""
