"""AiiDA caching of the plugin's calculations: a repeated study on the same inputs reuses finished jobs."""

from __future__ import annotations

CACHED_PROCESSES = (
    'aiida.calculations:ifacerank.*',
    'aiida.calculations:quantumespresso.pw',
    'aiida.calculations:vasp.vasp',
)
"""Process types with caching on: the plugin's calculations (its CalcJobs and its entry-point calcfunctions)
and the DFT engines' jobs that ``ifacerank.dft`` runs. Work chains are never cached: they run again and their
jobs find finished twins in the cache (a job's inputs made again by a calcfunction hash the same)."""


def enable_caching(profile_name: str) -> list[str]:
    """Add :data:`CACHED_PROCESSES` to the profile's ``caching.enabled_for`` (a daemon restart applies it)."""
    from aiida.manage.configuration import get_config  # noqa: PLC0415

    config = get_config()
    enabled = list(config.get_option('caching.enabled_for', scope=profile_name))
    enabled += [identifier for identifier in CACHED_PROCESSES if identifier not in enabled]
    config.set_option('caching.enabled_for', enabled, scope=profile_name)
    config.store()
    return enabled
