"""The engine's day compiled with numba, attached to an :class:`~econ.model.engine.Engine`
(docs/performance.md, "Compiled day").

:func:`attach` lays the static network, the members' parameters and the kernel's scratch out
once per run as :mod:`econ.model._daykernel` reads them; :meth:`CompiledDay.step` runs one day
of every member and returns the engine's :class:`~econ.model.engine.Day`. The engine's
``state`` arrays are updated in place, so a run can switch between the two days at any day.
Importing this module does not import numba (:func:`econ.model.kernel.load` does).
"""

from __future__ import annotations

import math
import weakref

import numpy as np

from .. import equations as eq
from ..economy import NOISE, OUTPUT_LOSS_MAX_ITER, OUTPUT_LOSS_TOL
from . import kernel as _kernel
from .economy import DAYS_PER_YEAR, FREIGHT_REVISION_DAYS, Economy, EconomyDay
from .engine import Day, Engine
from .record import PAIR_FIELDS, RunRecord
from .schedule import CellWedges

#: the Day's pair fields in the kernel's ``out_g`` rows
OUT_G = (
    "revenue_pairs",
    "evaded",
    "rate_change",
    "lost",
    "cancelled",
    "delayed",
    "diverted",
    "cleared",
    "spoiled",
    "queue_trucks_pairs",
)


#: the engine's state arrays, in the order the kernel takes them
STATE = (
    "share_box",
    "volume_box",
    "backlog",
    "queue_value",
    "pending_value",
    "compliance",
    "rate",
    "closure_days",
    "queue_trucks",
)

#: the route choice's memo flag (memo_valid, (M,)) in CompiledDay.memo
MEMO_VALID = 4
#: the economy's state, in the order economy_members takes it (CompiledEconomy)
ECONOMY_STATE = ("gap", "loss_share", "freight_multiplier", "fuel_price_sum")

#: run a neutral day of identical members once and copy it (:meth:`CompiledDay.step`); the
#: tests switch it off to check that the copies are the numbers each member would make
SHARE_NEUTRAL_DAYS = True


def _f64(a) -> np.ndarray:
    """A writable C-ordered float64 copy: the kernels are compiled for one array type."""
    return np.array(a, dtype=np.float64, order="C")


def _bits(a: np.ndarray) -> np.ndarray:
    """A float64 array's bits (equal bits: the same number, -0.0 and each NaN apart)."""
    return np.ascontiguousarray(a, dtype=np.float64).view(np.uint64)


def _alike(*arrays: np.ndarray, axis: int = 0) -> bool:
    """Whether every member (index along ``axis``) of each array holds the first member's
    numbers bit for bit."""
    return all((_bits(a) == _bits(a.take([0], axis=axis))).all() for a in arrays)


def _i64(a) -> np.ndarray:
    """A writable C-ordered int64 copy."""
    return np.array(a, dtype=np.int64, order="C")


def _idx(a) -> np.ndarray:
    """Indices for the kernels to gather through: a C-ordered uint64 copy. numba wraps a
    signed index that may be negative (x[-1]) with a shift, a mask and an add on every access;
    an unsigned one it takes as it is (the compiled day 12% faster, the same bits)."""
    a = np.asarray(a)
    if a.size and a.min() < 0:
        raise ValueError("a negative index")
    return np.array(a, dtype=np.uint64, order="C")


def _group(g) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A :class:`~econ.model.network.GroupSum` as the kernels read it: (perm, bounds, groups)."""
    return (
        _idx(np.arange(g.size) if g.perm is None else g.perm),
        _idx(np.r_[g.starts, g.size]),
        _idx(g.groups),
    )


def attach(engine: Engine) -> Engine:
    """Run ``engine``'s days with the compiled kernel (compiling it if not cached)."""
    engine.compiled = CompiledDay(engine)
    engine.kernel = "numba"
    return engine


class CompiledDay:
    """The engine's day run by the compiled kernel (:mod:`econ.model._daykernel`): the static
    network, the members' parameters and the kernel's scratch laid out once per run as the
    kernel reads them; :meth:`step` runs one day of every member and returns its :class:`Day`.
    The engine's ``state`` arrays are updated in place."""

    def __init__(self, engine: Engine) -> None:
        # weak: the engine holds this day, and a cycle would keep a finished run's arrays
        # alive until the garbage collector's rare full pass (a fit or a streamed ensemble
        # then grew by a chunk's model per chunk)
        self.engine = weakref.proxy(engine)
        e = engine
        self.k = _kernel.load()
        self.compiling = _kernel.Compiling()
        net, p = e.network, e.draws.params
        cl, cell, pair = net.cells, net.cell, net.pair
        M, F, G = e.draws.n_members, cl.n_cells, cl.n_pairs
        C, K, N, NO, NP = (
            net.n_crossings,
            net.n_commodities,
            cl.n_nests,
            cl.n_origins,
            len(cl.npair_nest),
        )
        f64, idx = _f64, _idx
        self.static = (
            f64(
                np.stack(
                    [
                        cell[k]
                        for k in ("v0", "s0", "freight", "delay_cost", "route_days0")
                        + ("pending_release",)
                    ]
                )
            ),
            idx(
                np.stack(
                    [cl.cell_commodity, cl.cell_crossing, cl.cell_nest, cl.cell_pair, cl.cell_npair]
                )
            ),
            f64(np.stack([pair[k] for k in ("vpt", "rate", "spoiled_share", "e0", "w0")])),
            idx(np.stack([cl.pair_crossing, cl.pair_commodity])),
            idx(cl.nest_origin),
            idx(cl.origin_commodity),
            idx(cl.npair_nest),
            f64(net.capacity),
            f64(e.v0_k),
            f64(e.v0_nest),
            int(cl.pair_levels[0][1]),
            tuple(
                a
                for g in (
                    cl.cells_to_commodity,
                    cl.pairs_to_commodity,
                    cl.pairs_to_crossing,
                    cl.cells_to_nest,
                    cl.nests_to_origin,
                    cl.origins_to_commodity,
                    cl.cells_to_npair,
                    cl.npairs_to_nest,
                )
                for a in _group(g)
            )
            + (idx(np.arange(G)), idx(cl.npair_peers)),
        )
        # the demand tree's elasticities, clipped and nudged once (calc_nested_shares does it
        # each time it runs; the values are the same)
        sig_o, sig_r, eta = eq.calc_tree_elasticities(
            e.sigma_origins, e.sigma_nests, e.eta_cells, cl
        )
        eta, sig_r, sig_o = eq._nudge(eta), eq._nudge(sig_r), eq._nudge(sig_o)
        s0_o = cl.nests_to_origin(cl.cells_to_nest(cell["s0"]))
        sig_k = cl.origins_to_commodity(np.where(s0_o > 0, sig_o, 0.0) * (s0_o > 0)) / np.maximum(
            cl.origins_to_commodity((s0_o > 0).astype(float)), 1.0
        )
        self.members = (
            f64(eta),
            f64(sig_r),
            f64(sig_o),
            f64(cl.cells_to_nest.max(eta)),
            f64(cl.nests_to_origin.max(sig_r)),
            f64(sig_k),
            f64(np.broadcast_to(p["import_demand_elasticity"], (M, K))),
            f64(np.broadcast_to(e.patience_cells, (M, F))),
            f64(np.broadcast_to(e.patience_pairs, (M, G))),
            f64(np.stack([r[:, :, 0] for r in np.broadcast_arrays(*e.rates)], axis=1)),
            f64(np.broadcast_to(e.box_weights, (M, 3))),
            f64(
                np.stack(
                    [
                        np.broadcast_to(p["closure_expected_days"], (M,)),
                        np.broadcast_to(p["order_replacement_days"], (M,)),
                    ]
                )
            ),
        )
        self.memo = (
            np.zeros((M, F)),
            np.zeros((M, F)),
            np.zeros((M, K)),
            np.zeros((M, F), bool),
            np.zeros(M, bool),
            np.zeros((M, 2, F)),  # cached powers of cells, nests and origins
            np.zeros((M, 3, N)),
            np.zeros((M, 3, NO)),
        )
        # a row per block of members, not per member (the kernel's step_members): a block's
        # row stays in its core's cache from one member to the next
        T = self.k.scratch_rows()
        self.scratch = tuple(
            np.zeros((T, n, size))
            for n, size in ((20, F), (11, G), (7, C), (17, K), (14, N), (9, NO), (4, NP))
        )
        self.no_anticipation = np.zeros((M, F))
        self.key: bytes | None = None
        self.out_g: np.ndarray | None = None  # the last day's pair outputs (CompiledRecord)
        self.wedges: dict[bytes, tuple] = {}
        self.shapes = (M, F, G, C)
        self._start_sharing(e)

    def _start_sharing(self, e: Engine) -> None:
        """What sharing the neutral days needs (:meth:`_neutral`, :meth:`_shared_day`): the
        state every member starts from (the engine's baseline, the same for all; None when
        the members differ or the run has begun) and the counts and flags kept on the way."""
        M, st = self.shapes[0], e.state
        same = M > 1 and e.day == 0 and _alike(*(st[n] for n in STATE))
        self.start = {n: _f64(st[n][:1]) for n in STATE} if same else None
        self.one_wedges: dict[bytes, tuple | None] = {}
        self.shared_days = 0  # days run once and copied (:meth:`_shared_day`)
        self.days_alone = 0  # of which left to the first member alone (step(one=True))
        # the last day shared: every member then still held the state they started from
        self.shared_through: int | None = None
        # a shared day may be left to the first member alone (step(one=True)): only when the
        # economy's members are alike too (set by the Model; CompiledEconomy.uniform)
        self.one_member_days = False

    def release(self) -> None:
        """Free the per-member buffers once the horizon is over (a fit keeps many finished
        models); stepping again would raise before reaching the kernel."""
        self.scratch = self.memo = ()
        self.wedges.clear()
        self.one_wedges.clear()

    def _day_wedges(self, key: bytes, w: CellWedges) -> tuple:
        """The day's wedges laid out for the kernel; only the current pattern's are kept (each
        is 7 arrays of members × cells: a fit's episode has dozens of patterns)."""
        if key not in self.wedges:
            self.wedges.clear()
            M, F, _, C = self.shapes
            f = lambda a: np.broadcast_to(a, (M, F))  # noqa: E731
            g0 = np.asarray(w.g0, dtype=np.float64)
            c64 = _f64
            self.wedges[key] = (
                c64(
                    np.stack(
                        [
                            f(w.tariff),
                            f(w.guarantee),
                            f(
                                np.where(
                                    w.availability < eq.AVAILABILITY_FLOOR, 0.0, w.availability
                                )
                            ),
                            f(w.extra_days),
                            f(w.afghan_rate),
                            f(w.compliance),
                            f(w.admitted),
                        ]
                    )
                ),
                np.array(f(w.unavailable), dtype=np.bool_, order="C"),
                c64(g0.reshape(-1, F)),
                c64(np.broadcast_to(w.capacity_share, (M, C))),
                c64(np.broadcast_to(w.capacity, (M, C))),
            )
        return self.wedges[key]

    def step(self, t: int, wedges: CellWedges, one: bool = False) -> Day:
        """Day ``t`` of every member. With ``one`` the caller promises that nothing but this
        run touched the state since the day before, and takes a shared day (a neutral day
        of identical members, :meth:`_neutral`) as the first member's alone: a :class:`Day`
        of one member, the others to be caught up (:meth:`Model.run
        <econ.model.model.Model.run>`)."""
        e = self.engine
        M, F, G, C = self.shapes
        key = e.schedule.day_pattern[t]
        same = e.memo.enabled and key == self.key
        self.key = key
        a = e.schedule.anticipation_at(t) if e.schedule.anticipation else 0.0
        if isinstance(a, float) and a == 0.0 and math.copysign(1.0, a) > 0:  # outside windows
            ant = self.no_anticipation  # zeros, never written
        else:
            ant = np.array(np.broadcast_to(a, (M, F)), dtype=np.float64, order="C")
        st = e.state
        for name in st:
            a = st[name]
            if not (a.flags.c_contiguous and a.flags.writeable and a.dtype == np.float64):
                st[name] = np.array(a, dtype=np.float64, order="C")
        out = None
        if self._neutral(t, key, ant, trusted=one):
            out = self._shared_day(t, key, wedges, ant, same, one and self.one_member_days)
        if out is None:
            out = self._run(
                self.members,
                np.array(e.baseline_index[:, t], dtype=np.float64, order="C"),
                np.array(e.freight_multiplier, dtype=np.float64, order="C"),
                self._day_wedges(key, wedges),
                ant,
                same,
                [st[n] for n in STATE],
                self.memo,
                self.scratch,
            )
        out_f, out_g, out_c, out_m = out
        self.out_g = out_g
        g = {name: out_g[i] for i, name in enumerate(OUT_G)}
        return Day(
            t,
            wedges,
            out_f[0],
            out_f[1],
            **g,
            queue_trucks=out_c[0],
            wait_days=out_c[1],
            revenue=out_m[0],
            baseline_revenue=out_m[1],
        )

    def _run(self, members, b, fmult, day_wedges, ant, same, state, memo, scratch) -> tuple:
        """One day of the members whose arrays are given (all, or the first alone):
        (out_f, out_g, out_c, out_m) as the kernel fills them."""
        M = len(b)
        _, F, G, C = self.shapes
        B = self.k.blocks(M)
        out_f, out_g = np.empty((3, M, F)), np.empty((10, M, G))
        out_c, out_m = np.empty((2, M, C)), np.empty((2, M))
        self.k.step_members(
            *self.static,
            *members,
            b,
            fmult,
            *day_wedges,
            ant,
            bool(self.engine.schedule.anticipation),
            bool(same),
            *state,
            *memo,
            out_f,
            out_g,
            out_c,
            out_m,
            *(a[:B] for a in scratch),
        )
        self.compiling.finished()
        return out_f, out_g, out_c, out_m

    def _neutral(self, t: int, key: bytes, ant: np.ndarray, trusted: bool = False) -> bool:
        """Day ``t`` can be run for one member and copied to all: no measure is in force and
        none is anticipated, every member has the same baseline index and freight and is
        still in the state they all started from (the days before an episode's first
        measure: a fifth of the fit's simulated days). Each member would then make the
        same numbers: at the baseline every parameter meets an exact 1 or 0 (a ratio of 1
        to a power, an adjustment of a zero gap; docs/performance.md, "Sixth pass"), and
        :meth:`_shared_day` checks that the day left the state where it was. ``trusted``:
        nothing else touched the state since the day before, so if that day was shared the
        members are still where they started, without comparing them again."""
        if not SHARE_NEUTRAL_DAYS or self.start is None or np.frombuffer(key, np.bool_).any():
            return False
        e = self.engine
        if e.schedule.anticipation and np.any(ant != 0.0):
            return False
        M = self.shapes[0]
        if not _alike(e.baseline_index[:, t], np.broadcast_to(e.freight_multiplier, (M,))):
            return False
        if trusted and self.shared_through == t - 1:
            return True
        return all((_bits(e.state[n]) == self.start[n].view(np.uint64)).all() for n in STATE)

    def _shared_day(self, t, key, wedges, ant, same, alone: bool = False) -> tuple | None:
        """A neutral day (:meth:`_neutral`) run for the first member and copied to every
        member (left to the first member with ``alone``); None (and the first member's
        state put back) if the day's wedges differ between members or the day moved the
        state, for the whole day to run instead."""
        w1 = self._one_wedges(key, wedges)
        if w1 is None:
            return None
        e = self.engine
        M, st = self.shapes[0], e.state
        mp = self.members[-1]  # (2, M): the only member array with members second
        members = tuple(a[:1] for a in self.members[:-1]) + (np.ascontiguousarray(mp[:, :1]),)
        one = self._run(
            members,
            np.array(e.baseline_index[:1, t], dtype=np.float64),
            np.array(np.broadcast_to(e.freight_multiplier, (M,))[:1], dtype=np.float64),
            w1,
            ant[:1],
            same,
            [st[n][:1] for n in STATE],
            [a[:1] for a in self.memo],
            self.scratch,
        )
        if not all((_bits(st[n][:1]) == self.start[n].view(np.uint64)).all() for n in STATE):
            for n in STATE:
                st[n][:1] = self.start[n]
            return None
        self.memo[MEMO_VALID][1:] = False  # the others' memos are not today's: recomputed
        self.shared_days += 1
        self.shared_through = t
        if alone:
            self.days_alone += 1
            return one
        out = []
        for a in one:
            full = np.empty((a.shape[0], M) + a.shape[2:])
            full[:] = a
            out.append(full)
        return tuple(out)

    def _one_wedges(self, key: bytes, w: CellWedges) -> tuple | None:
        """The first member's wedges of the day's pattern, if every member has the same."""
        if key not in self.one_wedges:
            self.one_wedges.clear()
            wf, unavailable, g0, capacity_share, capacity = self._day_wedges(key, w)
            locked = np.broadcast_to(w.locked, (self.shapes[0], self.shapes[1]))
            same = (
                _alike(wf, axis=1)
                and _alike(g0, capacity_share, capacity, locked)
                and (unavailable == unavailable[:1]).all()
            )
            self.one_wedges[key] = (
                (
                    np.ascontiguousarray(wf[:, :1]),
                    unavailable[:1],
                    g0[:1],
                    capacity_share[:1],
                    capacity[:1],
                )
                if same
                else None
            )
        return self.one_wedges[key]


def attach_economy(economy: Economy, engine: Engine) -> Economy:
    """Run ``economy``'s days with the compiled economy stage (``engine``'s day is compiled
    too: the stage reads the compiled day's wedges)."""
    economy.compiled = CompiledEconomy(economy, engine)
    return economy


class CompiledEconomy:
    """The economy stage's day run by :mod:`econ.model._econkernel`: the IO table, the network's
    groupings and the members' parameters laid out once per run; :meth:`step` runs one day of
    every member and returns its :class:`~econ.model.economy.EconomyDay`. The economy's state
    arrays (stock gaps, yesterday's output loss, the freight multiplier) are updated in place."""

    def __init__(self, economy: Economy, engine: Engine) -> None:
        self.economy, self.engine = weakref.proxy(economy), weakref.proxy(engine)  # see CompiledDay
        ec = economy
        self.k = _kernel.load_economy()
        net, tab = ec.network, ec.table
        cl, cell = net.cells, net.cell
        f64, i64 = _f64, _i64
        M, J = ec.gap.shape[0], tab.n_sectors
        self.static = (
            *_group(cl.pairs_to_commodity),
            *_group(cl.cells_to_commodity),
            i64(cl.cell_commodity),
            f64(ec.e0_k),
            i64(ec.imp),
            i64(ec.exp),
            f64(ec.use_share),
            f64(tab.output / DAYS_PER_YEAR),
            f64(tab.a),
            f64(tab.criticality),
            f64(tab.export_split),
            f64(tab.tax_rate),
            f64(tab.employment),
            i64(tab.item_import),
            f64(tab.item_import_share),
            f64(cell["freight"]),
            f64(cell["delay_cost"]),
            f64(cell["v0"]),
            f64(cell["g0"]),
        )
        self.members = (
            f64(ec.days),
            f64(np.broadcast_to(ec.psi[:, 0], (M,))),
            f64(np.broadcast_to(ec.substitution, (M,))),
            f64(np.broadcast_to(ec.domestic_criticality, (M, J, J))),
            f64(np.broadcast_to(ec.pass_through, (M,))),
            f64(np.broadcast_to(ec.elasticity, (M, len(tab.items)))),
            f64(np.broadcast_to(ec.fuel_share, (M,))),
            -1 if ec.fuel_item is None else int(ec.fuel_item),
        )
        self.jidx = i64(np.arange(J))
        W = max(net.n_commodities, len(ec.imp))
        self.scratch = (
            np.zeros((M, 6, W)),
            np.zeros((M, 7, J)),
            np.zeros((M, 1, net.cells.n_pairs)),
        )
        for name in ECONOMY_STATE:
            setattr(ec, name, f64(getattr(ec, name)))
        # every member alike, parameters and state: a day of the first member alone is then
        # each member's (CompiledDay.one_member_days)
        self.uniform = _alike(*self.members[:-1], *(getattr(ec, n) for n in ECONOMY_STATE))

    def step(self, day: Day) -> EconomyDay:
        """The economy's day of the members of ``day``: every member, or the first alone on
        a shared day (:meth:`CompiledDay.step`), whose state the others then lack until
        :meth:`catch_up`."""
        ec = self.economy
        M, J = day.cleared.shape[0], ec.table.n_sectors
        compiled = self.engine.compiled  # re-attached when measures are rescheduled
        key = self.engine.schedule.day_pattern[day.day]
        alone = M < ec.gap.shape[0]
        wf = (compiled._one_wedges if alone else compiled._day_wedges)(key, day.wedges)[0]
        f64 = lambda a: np.ascontiguousarray(a, dtype=np.float64)  # noqa: E731
        state = [getattr(ec, n)[:M] for n in ECONOMY_STATE]
        out = EconomyDay(
            np.empty((M, J)),
            np.empty(M),
            np.empty((M, J)),
            np.empty((M, len(ec.table.items))),
            np.empty((M, len(ec.imp))),
            state[2],
        )
        self.k.economy_members(
            *self.static,
            *(a[:M] for a in self.members[:-1]),
            self.members[-1],
            (ec.day + 1) % FREIGHT_REVISION_DAYS == 0,
            float(FREIGHT_REVISION_DAYS),
            NOISE,
            OUTPUT_LOSS_TOL,
            OUTPUT_LOSS_MAX_ITER,
            self.jidx,
            f64(ec.baseline_index[:M, day.day]),
            f64(day.cleared),
            f64(day.lost),
            f64(day.spoiled),
            f64(day.arrivals),
            f64(day.delay),
            wf,
            *state,
            out.output_loss,
            out.domestic_revenue_lost,
            out.employment_loss,
            out.price_index,
            out.supply_ratio,
            *(a[:M] for a in self.scratch),
        )
        ec.day += 1
        return out._replace(freight_multiplier=state[2].copy())

    def catch_up(self) -> None:
        """Give every member the first member's state, after days run for it alone."""
        for n in ECONOMY_STATE:
            a = getattr(self.economy, n)
            a[1:] = a[:1]


def attach_record(record: RunRecord, engine: Engine) -> RunRecord:
    """Add ``record``'s days with the compiled daily sums (``engine``'s day is compiled)."""
    record.compiled = CompiledRecord(record, engine)
    return record


class CompiledRecord:
    """The record's daily sums (:meth:`RunRecord.add`) run by :mod:`econ.model._recordkernel`
    into the record's own accumulators."""

    def __init__(self, record: RunRecord, engine: Engine) -> None:
        self.record, self.engine = weakref.proxy(record), weakref.proxy(engine)  # see CompiledDay
        self.k = _kernel.load_record()
        net = record.network
        cl = net.cells
        f64, i64 = _f64, _i64
        self.static = (
            f64(net.cell["delay_cost"]),
            f64(net.cell["premium"]),
            *_group(cl.cells_to_commodity),
        )
        M, F = record.acc_f.shape[2:]
        self.scratch = np.zeros((M, F + net.n_commodities))
        self.rows = i64([OUT_G.index(field) for _, field in PAIR_FIELDS])
        self.days_in_period = f64(record.days_in_period)
        self.locked: tuple[bytes | None, np.ndarray | None] = (None, None)

    def add(self, p: int, day: Day) -> None:
        """Add the day of the members of ``day`` to period ``p``: every member, or the first
        alone on a shared day (:meth:`CompiledDay.step`), whose sums the others then lack
        until :meth:`catch_up`."""
        r = self.record
        e = self.engine
        key = e.schedule.day_pattern[day.day]
        M = day.arrivals.shape[0]
        alone = M < self.scratch.shape[0]
        wf = (e.compiled._one_wedges if alone else e.compiled._day_wedges)(key, day.wedges)[0]
        if self.locked[0] != key:
            locked = np.broadcast_to(day.wedges.locked, self.scratch.shape[:1] + r.acc_f.shape[3:])
            self.locked = (key, np.array(locked, dtype=np.float64, order="C"))
        # the compiled day's own output block, read in place
        out_g = e.compiled.out_g
        if not all(getattr(day, f).base is out_g for f in OUT_G):
            raise ValueError("the compiled record adds only the day the compiled engine made")
        c = np.ascontiguousarray
        self.k.record_members(
            int(p),
            self.days_in_period,
            out_g,
            self.rows,
            c(day.queue_trucks, dtype=np.float64),
            c(day.wait_days, dtype=np.float64),
            c(day.arrivals, dtype=np.float64),
            c(day.delay, dtype=np.float64),
            wf[0],
            wf[1],
            self.locked[1][:M],
            *self.static,
            *self._sums(),
            self.scratch[:M],
        )

    def _sums(self) -> tuple[np.ndarray, ...]:
        """The record's sums the kernel adds to, each (..., P, M, ...)."""
        a = self.record.acc
        r = self.record
        return (
            r.acc_g,
            a["queue_trucks"],
            a["queue_trucks_max"],
            a["wait_days"],
            r.acc_f,
            a["mix_premium"],
        )

    def catch_up(self) -> None:
        """Give every member the first member's sums of the periods so far, after days added
        for it alone."""
        P = self.record.n_periods
        for acc in self._sums():
            x = acc[..., :P, :, :]  # (..., P, M, X)
            x[..., 1:, :] = x[..., :1, :]
