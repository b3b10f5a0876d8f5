"""Ensembles: members run in chunks along the ``member`` axis, in this process or in several,
and stacked into one Dataset.

Member ``m`` draws from ``numpy.random.default_rng([m, seed])`` whatever chunk or worker runs
it, so results do not depend on ``chunk_size``, ``workers`` or the dask cluster that runs the
chunks (tests/test_ensemble.py, tests/test_dask.py).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import xarray as xr

from ..spec.checks import MAX_MEMBERS, int_argument
from ..spec.in_force import warn_missing_measures
from ..spec.inputs import Inputs
from ..spec.scenario import Scenario
from . import arguments as arg
from .kernel import is_cached as is_compiled
from .kernel import resolve as resolve_kernel
from .memory import CHUNK, ensemble_bytes, guard_members, streamed_bytes
from .model import Model, finish, root_seed

log = logging.getLogger(__name__)

#: most worker processes (the CLI's --workers maximum)
MAX_WORKERS = 64


def run_members(
    inputs: Inputs,
    scenario: Scenario,
    *,
    members: int = 1,
    rng: int | np.random.Generator | None = None,
    freq: str = "MS",
    forecast: Any = None,
    chunk_size: int = CHUNK,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    dask: Any = None,
    kernel: str | None = None,
) -> xr.Dataset:
    """Run ``members`` members of ``scenario`` and return one Dataset (see :func:`econ.run`).

    ``members == 1`` is the deterministic run at central values; otherwise members are drawn
    from the root seed (``rng``, else the scenario's, else 0) and run ``chunk_size`` at a time,
    on ``workers`` processes when more than one, or as tasks of a dask cluster when ``dask``
    is given (:func:`run_chunks_on_dask`); the chunks of :func:`member_chunks` are stacked
    along ``member``. Non-finite members are counted and logged. ``kernel`` picks the daily
    step once for every chunk (:func:`econ.model.kernel.resolve`; default: the compiled day
    for an ensemble, compiling it once if needed, and for one member only if it is already
    compiled), so that no chunk runs a different one.
    """
    job = _checked(
        inputs, scenario, members, rng, freq, forecast, chunk_size, workers, progress, kernel
    )
    guard_members(
        lambda m: ensemble_bytes(
            inputs, scenario, m, freq=freq, chunk_size=job.chunk_size, workers=job.workers
        ),
        job.members,
        what=f"{job.members:,} member(s) of {scenario.name}",
        fix=lambda fits: f"run at most {fits:,} members (or a coarser freq, or fewer workers)",
    )
    chunks = _chunks(job, dask)
    if job.members == 1:
        return finish(next(chunks))
    stack = MemberStack(np.arange(job.members))
    for part in chunks:
        stack.add(part)
    return finish(stack.dataset)


def member_chunks(
    inputs: Inputs,
    scenario: Scenario,
    *,
    members: int = 1,
    rng: int | np.random.Generator | None = None,
    freq: str = "MS",
    forecast: Any = None,
    chunk_size: int = CHUNK,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    dask: Any = None,
    kernel: str | None = None,
    reduce_chunk: Callable[[xr.Dataset], xr.Dataset] | None = None,
) -> Iterator[xr.Dataset]:
    """Run the members of :func:`run_members` and yield each chunk's Dataset in member order,
    without stacking them: the caller holds one chunk at a time (plus, with ``workers`` > 1
    or ``dask``, the chunks being run).

    ``reduce_chunk`` (a picklable function of a chunk's Dataset, e.g.
    :func:`econ.analysis.tables.run_summary`) is applied where the chunk is run, in the worker
    process or on the dask worker, so that only its reduction travels back and is yielded.

    Arguments as in :func:`run_members` (checked here, before the first chunk runs). Every
    chunk carries the ensemble's attributes (``members``, ``seed``, ``history``) and its own
    count of non-finite members in ``nonfinite_members``; stacked along ``member``, the chunks
    are :func:`run_members`' result. The memory guard counts the chunks being run, not the
    members (:func:`~econ.model.memory.streamed_bytes`).
    """
    job = _checked(
        inputs, scenario, members, rng, freq, forecast, chunk_size, workers, progress, kernel
    )
    job = replace(job, reduce_chunk=reduce_chunk)
    guard_members(
        lambda m: streamed_bytes(
            inputs, scenario, m, freq=freq, chunk_size=job.chunk_size, workers=job.workers
        ),
        job.members,
        what=f"{job.members:,} member(s) of {scenario.name}, chunk by chunk",
        fix=lambda fits: "use a smaller chunk size or fewer workers",
    )
    return _chunks(job, dask)


@dataclass(frozen=True)
class _Job:
    """The checked arguments of an ensemble run."""

    inputs: Inputs
    scenario: Scenario
    members: int
    rng: Any
    freq: str
    forecast: Any
    chunk_size: int
    workers: int
    progress: Callable[[int, int], None] | None
    kernel: str  # "numpy" or "numba", resolved once for every chunk
    reduce_chunk: Callable[[xr.Dataset], xr.Dataset] | None = None  # applied where a chunk runs


def _checked(
    inputs: Any,
    scenario: Any,
    members: Any,
    rng: Any,
    freq: Any,
    forecast: Any,
    chunk_size: Any,
    workers: Any,
    progress: Any,
    kernel: Any,
) -> _Job:
    arg.check_inputs_argument(inputs)
    arg.check_scenario_argument(scenario)
    members = arg.check_members(members)
    arg.check_rng(rng)
    arg.check_freq(freq)
    arg.check_forecast(forecast)
    chunk_size = int_argument("chunk_size", chunk_size, 1, MAX_MEMBERS)
    workers = int_argument("workers", workers, 1, MAX_WORKERS)
    arg.check_progress(progress)
    kernel = resolve_kernel(kernel, "compile" if members > 1 else "cached")
    return _Job(
        inputs, scenario, members, rng, freq, forecast, chunk_size, workers, progress, kernel
    )


def _chunks(job: _Job, dask: Any) -> Iterator[xr.Dataset]:
    """The chunks of a checked run, in member order (one for the deterministic run)."""
    inputs, scenario, members, freq = job.inputs, job.scenario, job.members, job.freq
    progress = job.progress
    if members == 1:
        model = Model(
            inputs, scenario, rng=job.rng, freq=freq, forecast=job.forecast, kernel=job.kernel
        )
        log.info("running %s: %d days, 1 member (deterministic)", scenario.name, model.T)
        yield _reduced(model.run(progress=progress).result(), job.reduce_chunk)
        return
    warn_missing_measures(scenario, inputs.measures_in_force)  # once, not per chunk
    seed = root_seed(job.rng, scenario)  # resolved once, so every chunk shares it
    ids = np.arange(members)
    chunks = [ids[i : i + job.chunk_size] for i in range(0, members, job.chunk_size)]
    log.info(
        "running %s: %d members in %d chunk(s) on %d worker(s)",
        scenario.name,
        members,
        len(chunks),
        job.workers,
    )
    jobs = [
        (inputs, scenario, c, seed, freq, job.forecast, job.kernel, job.reduce_chunk)
        for c in chunks
    ]
    n_days = (scenario.end - scenario.start).days
    total = n_days * len(chunks)

    def labelled(part: xr.Dataset) -> xr.Dataset:
        part.attrs.update(
            members=members,
            seed=str(seed),
            deterministic=0,
            history=f"{part.attrs['history'].split(':')[0]}: run {scenario.name} "
            f"({members} member(s), freq {freq})",
        )
        return part

    if dask is not None:
        for i, part in enumerate(run_chunks_on_dask(jobs, dask, job.workers)):
            if progress is not None:
                progress((i + 1) * n_days, total)
            yield labelled(part)
    elif job.workers == 1:
        for i, one in enumerate(jobs):
            cb = (
                None
                if progress is None
                else (lambda d, _t, base=i * n_days: progress(base + d, total))
            )
            part = _chunk_model(*one[:7]).run(progress=cb).result()
            yield labelled(_reduced(part, job.reduce_chunk))
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # numba's thread pool does not survive a fork: worker processes of the compiled day are
        # started fresh (spawned), and each runs its chunk on one thread (_run_chunk)
        ctx = multiprocessing.get_context("spawn") if job.kernel == "numba" else None
        if job.kernel == "numba" and not is_compiled():
            # compile once here, not once in every worker: a one-member day caches the kernel
            Model(inputs, scenario, rng=job.rng, freq=freq, kernel="numba", economy=False).step()
        with ProcessPoolExecutor(max_workers=job.workers, mp_context=ctx) as ex:
            try:
                # at most one chunk per worker and one more in flight: finished chunks do not
                # pile up here while the caller is still writing an earlier one
                ahead = job.workers + 1
                pending = deque(ex.submit(_run_chunk, one) for one in jobs[:ahead])
                for i in range(len(jobs)):
                    part = pending.popleft().result()
                    if i + ahead < len(jobs):
                        pending.append(ex.submit(_run_chunk, jobs[i + ahead]))
                    if progress is not None:
                        progress((i + 1) * n_days, total)
                    yield labelled(part)
                    del part
            except BaseException:
                # interrupted or failed (here or in the consumer): chunks not yet started
                # are dropped, not run
                ex.shutdown(wait=False, cancel_futures=True)
                raise


class MemberStack:
    """Chunk results written into one Dataset along ``member``, allocated at the first chunk.

    Equivalent to ``xr.concat(parts, "member")`` (attributes and variables not along
    ``member`` from the first chunk) without holding every chunk and then copying them
    all: peak memory is the result plus one chunk, and there is no second pass over it.
    """

    def __init__(self, ids: np.ndarray) -> None:
        self.ids, self.at = ids, 0
        self.dataset: xr.Dataset | None = None

    def add(self, part: xr.Dataset) -> None:
        n = part.sizes["member"]
        if self.dataset is None:

            def alloc(v: xr.Variable) -> xr.Variable:
                if "member" not in v.dims:
                    return v
                if v.dims.index("member") != 0:
                    raise AssertionError("member must be the first axis of every result variable")
                return xr.Variable(
                    v.dims, np.empty((len(self.ids),) + v.shape[1:], v.dtype), v.attrs
                )

            coords = {
                k: xr.Variable("member", self.ids.astype(v.dtype), v.attrs)
                if k == "member"
                else alloc(v)
                for k, v in part.coords.variables.items()
            }
            self.dataset = xr.Dataset(
                {k: alloc(v) for k, v in part.data_vars.variables.items()},
                coords=coords,
                attrs=part.attrs,
            )
        if not np.array_equal(part["member"].values, self.ids[self.at : self.at + n]):
            raise AssertionError("chunks must arrive in member order")
        for k, v in self.dataset.variables.items():
            if "member" in v.dims and k != "member":
                v.data[self.at : self.at + n] = part.variables[k].data
        self.at += n


def _chunk_model(
    inputs: Inputs,
    scenario: Scenario,
    ids: np.ndarray,
    seed: int,
    freq: str,
    forecast: Any,
    kernel: str = "numpy",
) -> Model:
    return Model(
        inputs, scenario, member_ids=ids, rng=seed, freq=freq, forecast=forecast, kernel=kernel
    )


def _run_chunk(job: tuple) -> xr.Dataset:
    return _chunk_result(*job)


def _chunk_result(*job: Any) -> xr.Dataset:
    """A chunk run by a worker process or a dask worker: the compiled day on one thread (the
    workers are the parallelism; numba's threads on top would oversubscribe the cores), its
    result reduced there if the job says how (``reduce_chunk``)."""
    *model_args, kernel, reduce_chunk = job
    if kernel == "numba":
        import numba

        numba.set_num_threads(1)
    return _reduced(_chunk_model(*model_args, kernel).run().result(), reduce_chunk)


def _reduced(part: xr.Dataset, reduce_chunk: Callable[[xr.Dataset], xr.Dataset] | None):
    return part if reduce_chunk is None else reduce_chunk(part)


def run_chunks_on_dask(jobs: list[tuple], dask: Any, workers: int = 1) -> Iterator[xr.Dataset]:
    """Run the chunks ``jobs`` as tasks of a dask cluster; yield their results in member order.

    ``dask`` is a ``distributed.Client``, a scheduler address (``"tcp://host:8786"``: connect
    to a running cluster) or ``True``/``"local"`` (start a ``LocalCluster`` of single-threaded
    worker processes, ``workers`` of them if more than one, else one per core; closed at the
    end). The inputs go to the workers once (``scatter``), not once per chunk. A chunk is one
    task: its members step through the whole horizon together, so a member's numbers are those
    of the in-process run whatever worker runs it. A chunk's result leaves the cluster as soon
    as it is taken, so the caller holds one chunk beyond what it keeps (docs/performance.md,
    "Dask").
    """
    with dask_client(dask, workers) as client:
        inputs = client.scatter(jobs[0][0], broadcast=True, hash=False)
        futures = [client.submit(_chunk_result, inputs, *job[1:], pure=False) for job in jobs]
        log.info("running %d chunk(s) on dask (%s)", len(jobs), client.scheduler.address)
        for fut in futures:
            part = fut.result()
            fut.release()
            yield part


@contextmanager
def dask_client(dask: Any, workers: int = 1) -> Iterator[Any]:
    """A ``distributed.Client`` for ``dask`` (see :func:`run_chunks_on_dask`); a cluster or
    connection opened here is closed on exit, a given client is left open."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            'running on dask needs dask.distributed: pip install "chokepoint[dask]"'
        ) from err
    own: list[Any] = []
    if isinstance(dask, Client):
        client = dask
    elif dask is True or dask == "local":
        cluster = LocalCluster(
            n_workers=workers if workers > 1 else None,
            threads_per_worker=1,
            # the scheduler serves HTTP even without a dashboard, by default on port 8787: a
            # free port instead, so that two local clusters at once do not collide
            dashboard_address=":0",
        )
        client = Client(cluster)
        own = [client, cluster]
    elif isinstance(dask, str):
        client = Client(dask)
        own = [client]
    else:
        raise ValueError(f"dask must be a Client, an address or 'local', got {dask!r}")
    try:
        yield client
    finally:
        for obj in own:
            obj.close()
