"""AiiDA plugin to generate, relax (MACE and DFT) and rank crystalline interfaces."""

__version__ = '0.1.0'
