"""Where distributed work runs: a Dask ``Client`` on a local cluster, an existing scheduler or SLURM.

Every worker must have the same motifprobe (and plugins) installed as the client: tasks are
motifprobe functions called by name, and workers read and write the sweep directory, so it
must lie on a file system every worker sees.
"""
from __future__ import annotations

import contextlib
import logging
import os
from typing import Any, Callable, Iterator

from motifprobe.engine.errors import MotifprobeError

CLUSTERS = ("local", "slurm")
CONNECT_TIMEOUT = 10.0
"""Seconds to wait for a scheduler given with ``--scheduler`` before one line says it did not answer."""


def parse_cluster_options(pairs: list[str] | None) -> dict[str, Any]:
    """``KEY=VALUE`` strings (``--cluster-option``) as a dict; numbers become numbers.

    Raises
    ------
    MotifprobeError
        A pair without ``=`` or with an empty key.
    """
    options: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = str(pair).partition("=")
        if not sep or not key.strip():
            raise MotifprobeError(f"--cluster-option {pair!r} is not KEY=VALUE (e.g. queue=normal, cores=8)")
        options[key.strip().replace("-", "_")] = _number(value.strip())
    return options


def _number(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def default_workers() -> int:
    """Workers of a local cluster by default: one per CPU this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def dask_client(*, workers: int | None = None, threads_per_worker: int = 1, scheduler: str | None = None,
                cluster: str = "local", cluster_options: dict[str, Any] | None = None,
                timeout: float | None = None, say: Callable[[str], None] | None = None) -> Iterator[Any]:
    """Yield a ``distributed.Client``; close it (and the cluster it started) on exit.

    Parameters
    ----------
    workers : int, optional
        Local cluster: worker processes (default: one per CPU). SLURM: jobs to ask for (default 1).
    threads_per_worker : int
        Threads of each local worker (default 1: the models use their own threads).
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``); no cluster is started.
    cluster : {'local', 'slurm'}
        What to start when no scheduler is given. ``slurm`` builds a
        ``dask_jobqueue.SLURMCluster`` from ``cluster_options`` (``queue``, ``account``,
        ``cores``, ``memory``, ``walltime``, ...) and scales it to ``workers`` jobs.
    timeout : float, optional
        Seconds to wait for the scheduler to answer (default :data:`CONNECT_TIMEOUT`).
    say : callable, optional
        Called with one line: the dashboard link, when there is one.

    Raises
    ------
    MotifprobeError
        Unknown cluster kind, bad worker counts, options for a local cluster, a scheduler that
        does not answer within ``timeout``, or cluster options SLURMCluster refuses.
    """
    if cluster not in CLUSTERS:
        raise MotifprobeError(f"unknown cluster {cluster!r}; allowed: {', '.join(CLUSTERS)}")
    if workers is not None and (isinstance(workers, bool) or int(workers) < 1):
        raise MotifprobeError(f"--workers must be at least 1, got {workers}")
    if isinstance(threads_per_worker, bool) or int(threads_per_worker) < 1:
        raise MotifprobeError(f"--threads-per-worker must be at least 1, got {threads_per_worker}")
    if scheduler is not None and cluster != "local":
        raise MotifprobeError("give --scheduler ADDRESS or --cluster slurm, not both")
    if cluster_options and cluster == "local":
        raise MotifprobeError("--cluster-option goes with --cluster slurm; a local cluster takes --workers and "
                              "--threads-per-worker")
    from distributed import Client

    timeout = CONNECT_TIMEOUT if timeout is None else timeout
    started = None
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=f"{float(timeout)}s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise MotifprobeError(f"the Dask scheduler at {scheduler!r} did not answer within {float(timeout):g} s "
                                  f"({type(exc).__name__}); is it running and reachable?") from None
    elif cluster == "slurm":
        started = slurm_cluster(cluster_options or {})
        started.scale(jobs=int(workers or 1))
        client = Client(started)
    else:
        from distributed import LocalCluster

        started = LocalCluster(n_workers=int(workers or default_workers()), threads_per_worker=int(threads_per_worker),
                               processes=True, dashboard_address=":0", silence_logs=logging.ERROR)
        client = Client(started)
    try:
        link = getattr(client, "dashboard_link", None)
        if say is not None and link and _has_bokeh():  # without bokeh the dashboard page is empty
            say(f"Dask dashboard: {link}")
        yield client
    finally:
        client.close()
        if started is not None:
            started.close()


def _has_bokeh() -> bool:
    import importlib.util

    return importlib.util.find_spec("bokeh") is not None


def slurm_cluster(options: dict[str, Any]) -> Any:
    """A ``dask_jobqueue.SLURMCluster`` with ``options`` (``--cluster-option``) passed through.

    ``cores`` defaults to 1 and ``memory`` to 4GB (SLURMCluster needs both); no job is
    submitted until the cluster is scaled.

    Raises
    ------
    MotifprobeError
        dask-jobqueue is missing, or SLURMCluster refuses an option.
    """
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError:
        raise MotifprobeError("--cluster slurm needs dask-jobqueue (pip install dask-jobqueue)") from None
    options = dict(options)
    options.setdefault("cores", 1)
    options.setdefault("memory", "4GB")
    try:
        cluster = SLURMCluster(**options)
    except (TypeError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise MotifprobeError(f"SLURMCluster refused --cluster-option: {first}") from None
    return cluster
