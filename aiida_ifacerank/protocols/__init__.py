"""Protocol files (YAML) behind ``get_builder_from_protocol``."""
