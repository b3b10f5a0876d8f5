"""The memory guard: estimate what a request needs before computing, refuse what cannot fit.

A run holds its period sums and its result Dataset (members × periods × variables, float64),
plus the engine's state for the members of one chunk; an ensemble also holds the whole stacked
result; writing netCDF (scipy, netCDF3) builds a second copy of what it writes. The estimate is
made from the input sizes alone (no run), and compared with the memory the machine has
available (``MemAvailable`` in ``/proc/meminfo``, and the cgroup's limit when there is one).
A request that does not fit is a one-line :class:`~econ.errors.InputError` with the estimate,
what is available and what to change, before any work is done. docs/reliability.md gives the
estimates next to measured peaks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..spec.inputs import Inputs
from ..spec.scenario import Scenario, measure_fields
from . import ledger
from .record import LEDGER_VARIABLES, VARIABLES, period_labels

log = logging.getLogger(__name__)

#: members per chunk of an ensemble (econ.run's default) ...
CHUNK = 100
#: ... and of a streamed run whose chunks reach the caller whole (members written by region,
#: percentiles): with 2 workers, 1,000 members of `default` over 24 months peaked at 1.29-1.47
#: GB in chunks of 50 against 1.77 GB in chunks of 100, in the same time (docs/performance.md,
#: "Seventh pass"); a run reduced to its tables reduces each chunk where it runs and keeps 100
STREAM_CHUNK = 50

F64 = 8
#: engine state and daily work arrays per member, in route × commodity cells (measured on the
#: shipped inputs: the box deviations, targets, pending and queue values, wedges and their
#: temporaries come to about this many (R, K) float64 arrays; docs/reliability.md)
STATE_ARRAYS_RK = 120
#: the period sums, the derived outputs and the labelled Dataset of a chunk each hold the
#: chunk's result once while the Dataset is built
CHUNK_RESULT_COPIES = 3


def n_periods(scenario: Scenario, freq: str) -> int:
    """Reporting periods of the horizon at ``freq``."""
    days = pd.date_range(scenario.start, scenario.end, inclusive="left", freq="D")
    return len(period_labels(days, freq)[0])


def member_result_bytes(inputs: Inputs, scenario: Scenario, freq: str) -> int:
    """Bytes of one member's result: every variable of :data:`VARIABLES` and
    :data:`LEDGER_VARIABLES` over the periods, plus its parameter values (float64)."""
    sizes = {
        "time": n_periods(scenario, freq),
        "crossing": len(inputs.crossings),
        "route": len(inputs.routes),
        "commodity": len(inputs.commodities),
        "group": len(inputs.trader_groups),
        "component": len(ledger.COMPONENTS),
        "pakistan_component": len(ledger.PAKISTAN_COMPONENTS),
    }
    cells = 0
    for dims, *_ in VARIABLES.values():
        n = sizes["time"]
        for d in dims:
            n *= sizes[d]
        cells += n
    for dims, *_ in LEDGER_VARIABLES.values():
        n = 1
        for d in dims:
            n *= sizes[d]
        cells += n
    ranges = sum(
        isinstance(getattr(m, f, None), tuple) for m in scenario.measures for f in measure_fields(m)
    )
    n_values = len(inputs.parameters) + ranges + 1  # + the forecast baseline's quantile
    return F64 * (cells + n_values)


def model_bytes(inputs: Inputs, scenario: Scenario, members: int, freq: str) -> int:
    """Peak bytes of one :class:`~econ.model.model.Model` of ``members`` members run to its
    result: the engine's state and the result's copies (sums, derived outputs, Dataset)."""
    state = STATE_ARRAYS_RK * len(inputs.routes) * len(inputs.commodities) * F64
    per_member = CHUNK_RESULT_COPIES * member_result_bytes(inputs, scenario, freq) + state
    return members * per_member


def ensemble_bytes(
    inputs: Inputs,
    scenario: Scenario,
    members: int,
    *,
    freq: str = "MS",
    chunk_size: int = CHUNK,
    workers: int = 1,
) -> dict[str, int]:
    """What :func:`~econ.model.ensemble.run_members` holds at its peak, by part: the stacked
    result and the chunks being run (one per worker; a worker's chunk comes back pickled)."""
    per = member_result_bytes(inputs, scenario, freq)
    chunk = min(members, chunk_size)
    running = model_bytes(inputs, scenario, chunk, freq)
    parts = {"the result": members * per}
    if members > 1:
        parts["the chunk(s) being run"] = workers * running + _waiting(workers) * chunk * per
    else:
        parts["the run"] = running
    return parts


def streamed_bytes(
    inputs: Inputs,
    scenario: Scenario,
    members: int,
    *,
    freq: str = "MS",
    chunk_size: int = CHUNK,
    workers: int = 1,
) -> dict[str, int]:
    """What :func:`~econ.model.ensemble.member_chunks` holds at its peak, by part: the chunks
    being run (one per worker process) and, with workers, the finished ones waiting here
    (at most one per worker and one more), and the chunk the caller holds while the next one
    runs. Independent of ``members``: nothing is stacked."""
    per = member_result_bytes(inputs, scenario, freq)
    chunk = min(members, chunk_size)
    running = workers * model_bytes(inputs, scenario, chunk, freq) + _waiting(workers) * chunk * per
    return {"the chunk(s) being run": running, "the chunk in hand": chunk * per}


def _waiting(workers: int) -> int:
    """Finished chunks an ensemble on ``workers`` processes can hold before the caller takes
    them (:func:`econ.model.ensemble._chunks` keeps ``workers + 1`` in flight)."""
    return workers + 1 if workers > 1 else 0


def summary_member_bytes(inputs: Inputs, scenario: Scenario, freq: str) -> int:
    """Bytes per member of the run tables' summary (:func:`econ.analysis.tables.run_summary`):
    the 8 revenue variables by crossing, by coal split (3) and by period, trader pressure by
    period and group, the peak protest risk by group and a few totals (float64)."""
    periods, groups = n_periods(scenario, freq), len(inputs.trader_groups)
    return F64 * (8 * (len(inputs.crossings) + 3 + periods) + groups * (periods + 1) + 16)


#: the bytes of members read at once when percentiles are taken slab by slab
#: (:func:`econ.io.stream.reduce_members`)
SLAB_BYTES = 64 * 2**20
#: a slab, its copy without NaNs and the quantile's sorted copy and output (numpy's quantile)
SLAB_COPIES = 4


def stream_writer_bytes(
    inputs: Inputs,
    scenario: Scenario,
    members: int,
    *,
    freq: str = "MS",
    chunk_size: int = CHUNK,
    percentiles_only: bool = False,
) -> dict[str, int]:
    """What the streamed output adds to :func:`streamed_bytes`: the per-member summary the
    tables are made from; writing members by region, the writer's copy of one chunk; taking
    percentiles, the slabs being reduced and the 3 percentiles of every variable."""
    per = member_result_bytes(inputs, scenario, freq)
    chunk = min(members, chunk_size)
    parts = {
        "the tables' per-member summary": members * summary_member_bytes(inputs, scenario, freq)
    }
    if percentiles_only and members > 1:
        slab = min(SLAB_BYTES, members * per)
        parts["the slabs being reduced and the percentiles"] = SLAB_COPIES * slab + 2 * 3 * per
    else:
        parts["the writer's copy of a chunk"] = chunk * per
    return parts


def writer_bytes(result_bytes: int, members: int, percentiles_only: bool) -> dict[str, int]:
    """What writing the result adds: the netCDF3 writer's copy of what it writes, and for
    ``percentiles_only`` the 3 percentiles plus the sorted copy of a variable."""
    if percentiles_only and members > 1:
        per = result_bytes / members
        return {"the percentiles and their netCDF copy": int(2 * 3 * per + result_bytes / 16)}
    return {"the netCDF writer's copy": result_bytes}


def available_memory() -> int | None:
    """Bytes the process can still allocate: ``MemAvailable``, capped by the cgroup's
    remaining limit; ``None`` when neither can be read (the guard then stays off)."""
    avail = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
            room = int(limit) - used
            avail = room if avail is None else min(avail, room)
    except (OSError, ValueError):
        pass
    return avail


def human(n: float) -> str:
    """Bytes in a short human form: ``1.4 GB``."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


def members_that_fit(need: Callable[[int], int], upper: int) -> int:
    """The largest member count from 1 to ``upper`` whose ``need(members)`` (bytes) fits in
    the available memory; 0 when not even one member fits, ``upper`` when the guard is off."""
    avail = available_memory()
    if avail is None or need(upper) <= avail:
        return upper
    lo, hi = 0, upper  # need(lo) fits (or lo == 0), need(hi) does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if need(mid) <= avail else (lo, mid)
    return lo


def guard_members(
    need: Callable[[int], Mapping[str, int]],
    members: int,
    *,
    what: str,
    fix: Callable[[int], str],
) -> None:
    """Refuse a request of ``members`` members whose ``need(members)`` (bytes by part) does
    not fit, in one line; ``fix(fits)`` words the fix from the largest count that fits."""
    avail = available_memory()
    parts = need(members)
    if avail is None or sum(parts.values()) <= avail:
        return
    fits = members_that_fit(lambda m: sum(need(m).values()), members)
    check_memory(parts, what=what, fix=fix(fits))


def check_memory(parts: Mapping[str, int], *, what: str, fix: str) -> int:
    """Refuse, in one line, a request whose estimated bytes exceed the available memory.

    ``parts`` names what needs the memory; ``what`` names the request (``--members 100000``);
    ``fix`` says what to change. Returns the estimate (bytes).
    """
    total = int(sum(parts.values()))
    avail = available_memory()
    log.debug("memory estimate for %s: %s (available %s)", what, total, avail)
    if avail is not None and total > avail:
        detail = ", ".join(f"{name} {human(b)}" for name, b in parts.items())
        raise InputError(
            f"{what}: needs about {human(total)} of memory ({detail}) but "
            f"{human(avail)} is available; fix: {fix}"
        )
    return total
