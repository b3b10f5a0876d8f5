"""The engine's day compiled with numba, attached to an :class:`~econ.model.engine.Engine`
(docs/performance.md, "Compiled day").

:func:`attach` lays the static network, the members' parameters and the kernel's scratch out
once per run as :mod:`econ.model._daykernel` reads them; :meth:`CompiledDay.step` runs one day
of every member and returns the engine's :class:`~econ.model.engine.Day`. The engine's
``state`` arrays are updated in place, so a run can switch between the two days at any day.
Importing this module does not import numba (:func:`econ.model.kernel.load` does).
"""

from __future__ import annotations

import numpy as np

from .. import equations as eq
from . import kernel as _kernel
from .engine import Day, Engine
from .schedule import CellWedges


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
        self.engine = e = engine
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
        # writable C-ordered copies: the kernel is compiled for one array type
        f64 = lambda a: np.array(a, dtype=np.float64, order="C")  # noqa: E731
        i64 = lambda a: np.array(a, dtype=np.int64, order="C")  # noqa: E731
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
            i64(
                np.stack(
                    [cl.cell_commodity, cl.cell_crossing, cl.cell_nest, cl.cell_pair, cl.cell_npair]
                )
            ),
            f64(np.stack([pair[k] for k in ("vpt", "rate", "spoiled_share", "e0", "w0")])),
            i64(np.stack([cl.pair_crossing, cl.pair_commodity])),
            i64(cl.nest_origin),
            i64(cl.origin_commodity),
            i64(cl.npair_nest),
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
                for a in (
                    i64(np.arange(g.size) if g.perm is None else g.perm),
                    i64(np.r_[g.starts, g.size]),
                    i64(g.groups),
                )
            )
            + (i64(np.arange(G)), i64(cl.npair_peers)),
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
        self.scratch = tuple(
            np.zeros((M, n, size))
            for n, size in ((20, F), (11, G), (7, C), (17, K), (14, N), (9, NO), (4, NP))
        )
        self.no_anticipation = np.zeros((M, F))
        self.key: bytes | None = None
        self.wedges: dict[bytes, tuple] = {}
        self.shapes = (M, F, G, C)

    def release(self) -> None:
        """Free the per-member buffers once the horizon is over (a fit keeps many finished
        models); stepping again would raise before reaching the kernel."""
        self.scratch = self.memo = ()
        self.wedges.clear()

    def _day_wedges(self, key: bytes, w: CellWedges) -> tuple:
        """The day's wedges laid out for the kernel; only the current pattern's are kept (each
        is 7 arrays of members × cells: a fit's episode has dozens of patterns)."""
        if key not in self.wedges:
            self.wedges.clear()
            M, F, _, C = self.shapes
            f = lambda a: np.broadcast_to(a, (M, F))  # noqa: E731
            g0 = np.asarray(w.g0, dtype=np.float64)
            c64 = lambda a: np.array(a, dtype=np.float64, order="C")  # noqa: E731
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

    def step(self, t: int, wedges: CellWedges) -> Day:
        e = self.engine
        M, F, G, C = self.shapes
        key = e.schedule.day_pattern[t]
        same = e.memo.enabled and key == self.key
        self.key = key
        if e.schedule.anticipation:
            ant = np.array(
                np.broadcast_to(e.schedule.anticipation_at(t), (M, F)), dtype=np.float64, order="C"
            )
        else:
            ant = self.no_anticipation
        st = e.state
        for name in st:
            a = st[name]
            if not (a.flags.c_contiguous and a.flags.writeable and a.dtype == np.float64):
                st[name] = np.array(a, dtype=np.float64, order="C")
        out_f, out_g = np.empty((3, M, F)), np.empty((10, M, G))
        out_c, out_m = np.empty((2, M, C)), np.empty((2, M))
        self.k.step_members(
            *self.static,
            *self.members,
            np.array(e.baseline_index[:, t], dtype=np.float64, order="C"),
            np.array(e.freight_multiplier, dtype=np.float64, order="C"),
            *self._day_wedges(key, wedges),
            ant,
            bool(e.schedule.anticipation),
            bool(same),
            st["share_box"],
            st["volume_box"],
            st["backlog"],
            st["queue_value"],
            st["pending_value"],
            st["compliance"],
            st["rate"],
            st["closure_days"],
            st["queue_trucks"],
            *self.memo,
            out_f,
            out_g,
            out_c,
            out_m,
            *self.scratch,
        )
        self.compiling.finished()
        return Day(
            t,
            wedges,
            out_f[0],
            out_f[1],
            out_g[7],
            out_g[0],
            out_g[1],
            out_g[2],
            out_g[8],
            out_g[3],
            out_g[4],
            out_g[6],
            out_g[5],
            out_g[9],
            out_c[0],
            out_c[1],
            out_m[0],
            out_m[1],
        )
