"""Pure helpers that are not science proper: DFT settings, pseudopotential families, figures."""
