"""Start a profile's daemon so that its workers hear their broker, also after an unclean stop.

aiida-core 2.9's ZeroMQ broker (the ``verdi presto`` profiles) writes the address of its socket to the file
``broker.sockets`` and deletes it when it stops. A broker killed (SIGKILL, a crashed or rebooted machine) leaves the
file behind, and a worker started with the next broker can read it before the new broker replaces it: the worker then
waits on the dead socket for good, and every process of the profile waits with it, with nothing reported.
"""

from __future__ import annotations

import time
from pathlib import Path

import psutil


def stale_broker_address() -> Path | None:
    """The ``broker.sockets`` file of the loaded profile's ZeroMQ broker if that broker is not running; else None."""
    from aiida.brokers import ZeromqBroker  # noqa: PLC0415
    from aiida.brokers.zeromq.service import ZeromqBrokerService  # noqa: PLC0415
    from aiida.manage import get_manager  # noqa: PLC0415
    from aiida.manage.configuration import get_config  # noqa: PLC0415

    manager = get_manager()
    broker = manager.get_broker()
    if not isinstance(broker, ZeromqBroker) or broker.check_service_reachable():
        return None
    service_dir = get_config().filepaths(manager.get_profile())['broker_service']['dir']
    path = ZeromqBrokerService.FilepathLayout(service_dir).sockets_file
    return path if path.exists() else None


def task_subscribers(since: float = 0.0) -> int | None:
    """Workers subscribed to the tasks of the loaded profile's ZeroMQ broker, by its status file (written every 5 s)
    if written after ``since`` (a ``time.time()``), else 0; 0 if the broker is not running; None for another broker
    (RabbitMQ requeues the tasks of every connection that closes)."""
    from aiida.brokers import ZeromqBroker  # noqa: PLC0415
    from aiida.manage import get_manager  # noqa: PLC0415

    broker = get_manager().get_broker()
    if not isinstance(broker, ZeromqBroker):
        return None
    if not broker.check_service_reachable():
        return 0
    status = broker.probe_service_status()
    return (status.get('task_subscribers') or 0) if status.get('timestamp', 0.0) >= since else 0


def start_daemon(workers: int = 1, timeout: float = 60.0) -> str:
    """Start the loaded profile's daemon with ``workers`` workers, unless it runs with its workers subscribed.

    A stale ``broker.sockets`` goes first; a running daemon whose ZeroMQ broker has had no subscribed worker for
    ``timeout`` seconds (s) is stopped and started again. Raises RuntimeError if no worker subscribes within
    ``timeout`` of the start. Returns what it did, in words.
    """
    from aiida.engine.daemon.client import get_daemon_client  # noqa: PLC0415

    client = get_daemon_client()
    action = 'started'
    if alive(client.get_daemon_pid()):  # not ``is_daemon_running``: a killed daemon leaves its pid file
        if _subscribed(timeout):
            return 'already running'
        client.stop_daemon(wait=True)
        action = f'restarted (no worker had subscribed to its broker in {timeout:.0f} s)'
    stale = stale_broker_address()
    if stale is not None:
        stale.unlink()
        action += f'; removed {stale}, left by a broker that had not stopped cleanly'
    started = time.time()
    client.start_daemon(number_workers=workers)
    if not _subscribed(timeout, since=started):
        raise RuntimeError(
            f'the daemon of profile {client.profile.name} started, but no worker subscribed to its broker within '
            f'{timeout:.0f} s: stop it (verdi daemon stop), delete {stale or "the broker.sockets file of the profile"}'
            ' if it is there, and start it again.'
        )
    return action


def alive(pid: int | None) -> bool:
    """Whether process ``pid`` runs (a zombie does not)."""
    try:
        return pid is not None and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _subscribed(timeout: float, since: float = 0.0) -> bool:
    """Whether a worker subscribes to the broker within ``timeout`` (s), by a status written after ``since``; always
    True for RabbitMQ."""
    deadline = time.monotonic() + timeout
    while True:
        count = task_subscribers(since)
        if count is None or count > 0:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(1.0)
