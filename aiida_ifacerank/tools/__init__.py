"""Pure helpers that are not science proper (models for tests and demos, I/O)."""
