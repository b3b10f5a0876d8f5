"""The daily engine: the state of a run and :meth:`Engine.step`, one day as a short sequence of
processes (docs/model.md §3–6):

    route choice → adjustment → hold-back → arrivals and queue → re-routing
    → compliance and revenue → decomposition

Each process has its reference form in :mod:`econ.equations`; the engine runs it on the cells
and pairs with baseline flow (:class:`~econ.model.network.CellLayout`), writing large
intermediates into preallocated work arrays (``out=`` and in-place operators) in the order of
operations of the reference, so the numbers are the reference's (tests/test_kernels.py checks
each fused process against its reference on random inputs).

Symbols (docs/model.md, "Symbols"): ``b`` the baseline index of the day, ``y`` the adjustment
boxes, ``phi`` the cleared share, ``renege`` the share of the queue turning back, ``kappa``
compliance, ``capacity`` trucks/day, ``params`` the members' parameter arrays.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import NamedTuple

import numpy as np

from .. import equations as eq
from .draws import Draws
from .network import Network
from .schedule import CellWedges, Schedule

N_BOXES = 3


class Day(NamedTuple):
    """What one day produced, on cells (M, F), pairs (M, G) or crossings (M, C).

    Arrays are the engine's work arrays: read them before the next :meth:`Engine.step`.
    """

    day: int
    wedges: CellWedges
    arrivals: np.ndarray  # (M, F) USD arriving at the border by route
    delay: np.ndarray  # (M, F) days beyond the route's baseline (queue wait + extra days)
    cleared: np.ndarray  # (M, G) USD cleared
    evaded: np.ndarray  # (M, G) USD cleared but not declared
    spoiled: np.ndarray  # (M, G) USD spoiled in the queue
    lost: np.ndarray  # (M, G) USD: baseline value not traded nationally, by baseline share
    diverted: np.ndarray  # (M, G) USD: e0 − cleared − lost − delayed − spoiled
    delayed: np.ndarray  # (M, G) USD: growth of queue and re-routed cargo in transit
    queue_trucks_pairs: np.ndarray  # (M, G) trucks queuing at day end
    queue_trucks: np.ndarray  # (M, C)
    wait_days: np.ndarray  # (M, C) expected wait at day end
    revenue: np.ndarray  # (M,) national customs revenue
    baseline_revenue: np.ndarray  # (M,)


class Border(NamedTuple):
    """The border's day (:meth:`Engine.arrive_and_queue`): cells (M, F), pairs (M, G),
    crossings (M, C)."""

    arrivals: np.ndarray  # (M, F) USD arriving by route
    arrivals_by_pair: np.ndarray  # (M, G)
    released: np.ndarray  # (M, F) re-routed cargo reaching its new crossing
    cleared: np.ndarray  # (M, G)
    spoiled: np.ndarray  # (M, G)
    turned: np.ndarray  # (M, G) turned back or held, to be re-routed
    queue: np.ndarray  # (M, G) USD queuing at day end
    queue_prev: np.ndarray  # (M, G) USD queuing at the start of the day
    wait_end: np.ndarray  # (M, C) expected wait at day end


class Engine:
    """State of a run and its daily step.

    Parameters
    ----------
    network, draws, schedule
        The static network, the members' values and the compiled scenario.
    baseline_index
        (M, T) multiplier on base-year flows for each day.
    """

    def __init__(
        self, network: Network, draws: Draws, schedule: Schedule, baseline_index: np.ndarray
    ) -> None:
        self.network, self.draws, self.schedule = network, draws, schedule
        self.baseline_index = baseline_index
        self.n_days = baseline_index.shape[1]
        self.day = 0
        M, F, G = draws.n_members, network.cells.n_cells, network.cells.n_pairs
        C = network.n_crossings
        self.state: dict[str, np.ndarray] = {
            "box_deviation": np.zeros((M, N_BOXES, F)),  # USD/day, orders minus baseline
            "queue_value": np.zeros((M, G)),  # USD, stock at day end
            "pending_value": np.zeros((M, F)),  # USD, turned-back cargo re-routed
            "compliance": np.ones((M, G)),  # 1
            "closure_days": np.zeros((M, C)),  # days the crossing has been fully shut
            # sums kept from the end of the previous day (the same sums of the same arrays)
            "queue_trucks": np.zeros((M, C)),  # trucks, Σ_k queue_value / vpt
            "pending_by_pair": np.zeros((M, G)),  # USD, pending_value summed to pairs
        }
        # work arrays the daily loop writes into (out=, in-place operators) instead of
        # allocating new arrays: allocating and freeing large arrays every day costs more
        # than the arithmetic (memory is handed back to the system and faulted in again)
        cell, pair = (lambda: np.empty((M, F))), (lambda: np.empty((M, G)))
        self.work = SimpleNamespace(
            v0=cell(),
            delay=cell(),
            ratio=cell(),
            weight=cell(),
            orders=cell(),
            hold=cell(),
            released=cell(),
            sent=cell(),
            arrivals=cell(),
            shift=cell(),
            tmp=cell(),
            gather=cell(),
            spread=cell(),
            spread_bool=np.empty((M, F), bool),
            ystar=cell(),
            gap=np.empty((M, N_BOXES, F)),
            lam=np.empty((M, N_BOXES, F)),
            down=np.empty((M, N_BOXES, F), bool),
            mask=np.empty((M, N_BOXES, F), bool),
            queue=pair(),
            cleared=pair(),
            spoiled=pair(),
            turned=pair(),
            excl=pair(),
            tot=pair(),
            per=pair(),
            held_c=pair(),
            arrivals_c=pair(),
            pending_c=pair(),
            e0=pair(),
            lost=pair(),
            delayed=pair(),
            diverted=pair(),
            evaded=pair(),
            queue_trucks=pair(),
            pair_tmp=pair(),
            pair_bool=np.empty((M, G), bool),
        )
        self.memo = Memo(M, F, G, C)
        params = draws.params
        cl = network.cells
        # elasticities of the nested route choice: ρσ inside a cell's nest, σ between nests
        sigma, rho = (
            params["route_substitution_elasticity"],
            params["within_corridor_substitution_ratio"],
        )
        self.sigma_cells = sigma[:, cl.cell_commodity] * rho[:, None]  # (M, F)
        self.nests = dict(
            nest_sum=cl.cells_to_nest,
            nest_max=cl.cells_to_nest.max,
            to_nest_cells=lambda x: np.take(x, cl.cell_nest, axis=-1),
            nest_route_sum=cl.nests_to_commodity,
            nest_sigma=sigma[:, cl.nest_commodity],
            rho=rho[:, None],
        )
        # daily adjustment rates per box (M, 3, 1): at the box's time scale, in flight from a
        # penalised route (faster), and on the way back toward the baseline (slower)
        tau = draws.box_timescales[:, :, None]
        self.rates = (
            eq.calc_adjustment_rate(tau, 1.0),
            eq.calc_adjustment_rate(tau * params["flight_speed_factor"][:, None, None], 1.0),
            eq.calc_adjustment_rate(tau * params["return_slowdown_factor"][:, None, None], 1.0),
        )
        self.box_weights = draws.box_weights

    # ------------------------------------------------------------------ the day
    def step(self) -> Day:
        """Advance one day; returns what it produced (:class:`Day`)."""
        if self.day >= self.n_days:
            raise RuntimeError("the scenario horizon is over")
        t = self.day
        w, state, cell = self.work, self.state, self.network.cell
        wedges = self.schedule.cell_wedges(t)
        b = self.baseline_index[:, t][:, None]  # (M, 1)
        v0 = np.multiply(cell["v0"], b, out=w.v0)  # (M, F)
        elapsed, delay, ratio = self.route_cost(wedges)
        target, penalised, fresh = self.route_choice(t, b, v0, ratio, wedges)
        orders = self.adjust(t, v0, target, penalised)
        hold_r = self.hold_back(wedges.capacity_share, elapsed)
        border = self.arrive_and_queue(orders, hold_r, wedges, elapsed)
        lost_turned, pending_prev_c = self.reroute(
            target, hold_r, border.turned, border.released, fresh
        )
        revenue, kappa, e0 = self.collect(
            border.arrivals, border.arrivals_by_pair, border.cleared, wedges.compliance, b
        )
        cleared, spoiled, queue = border.cleared, border.spoiled, border.queue
        lost, delayed, diverted = self.decompose(
            v0, orders, lost_turned, queue, border.queue_prev, pending_prev_c, e0, cleared, spoiled
        )
        evaded = np.subtract(1.0, kappa, out=w.evaded)
        evaded *= cleared
        qt_ck = np.divide(queue, self.network.pair["vpt"], out=w.queue_trucks)
        qt = self.network.cells.pairs_to_crossing(qt_ck)
        state["queue_trucks"] = qt
        self.day += 1
        baseline_revenue = np.multiply(e0, self.network.pair["rate"], out=w.pair_tmp).sum(axis=1)
        return Day(
            t,
            wedges,
            border.arrivals,
            delay,
            cleared,
            evaded,
            spoiled,
            lost,
            diverted,
            delayed,
            qt_ck,
            qt,
            border.wait_end,
            revenue,
            baseline_revenue,
        )

    # ------------------------------------------------------------------ processes
    def route_cost(self, wedges: CellWedges) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Closure clock, delay and the cost ratio g/g0 of every cell at the start-of-day queue.

        Returns ``elapsed`` (M, C) days a crossing has been fully shut, ``delay`` (M, F) days
        beyond the baseline (``calc_wait_days`` + extra days) and ``ratio`` (M, F) g/g0
        (``calc_generalized_cost``). A partial capacity cut is a throughput loss (handled by the
        queue), so only full closures lengthen the expected closure.
        """
        w, state, params, cell = self.work, self.state, self.draws.params, self.network.cell
        cap = wedges.capacity_share
        elapsed = np.where(cap <= 0.0, state["closure_days"] + 1.0, 0.0)
        state["closure_days"] = elapsed
        expected = np.maximum(params["closure_expected_days"][:, None], elapsed)
        wait = eq.calc_wait_days(state["queue_trucks"], self.network.capacity, cap, expected)
        delay = np.take(wait, self.network.cells.cell_crossing, axis=1, out=w.delay)
        delay += wedges.extra_days  # days beyond baseline
        # ratio = g / g0 with g = 1 + f + h·D + tariff + guarantee (calc_generalized_cost)
        ratio = np.add(cell["route_days0"], delay, out=w.ratio)  # D
        ratio *= cell["delay_cost"]
        ratio += cell["one_plus_freight"]
        ratio += wedges.tariff
        ratio += wedges.guarantee
        ratio /= wedges.g0  # the network's g0, with the base year's own measures if any
        return elapsed, delay, ratio

    def route_choice(
        self, t: int, b: np.ndarray, v0: np.ndarray, ratio: np.ndarray, wedges: CellWedges
    ) -> tuple[np.ndarray, np.ndarray, bool]:
        """Target flow (M, F) of the nested CES demand system (``calc_target_flow``) and which
        cells are penalised (M, 1, F): dearer than in the baseline, or less available.

        Recomputed only when its inputs changed since yesterday (days with no queue and no
        change of measures repeat it exactly): an exact memo, see :class:`Memo`.
        """
        memo, w, params, cl = self.memo, self.work, self.draws.params, self.network.cells
        fresh = memo.stale(self.schedule.day_pattern[t], b, ratio)
        target, penalised = memo.target, memo.penalised
        if fresh:
            eq.calc_target_flow_cells(
                v0,
                self.network.cell["s0"],
                wedges.availability,
                ratio,
                self.sigma_cells,
                params["route_substitution_elasticity"],
                params["import_demand_elasticity"],
                out=target,
                work=w.weight,
                route_sum=lambda x: cl.cells_to_commodity(x, w.gather),
                to_routes=lambda x: np.take(
                    x, cl.cell_commodity, axis=1, out=w.spread_bool if x.dtype == bool else w.spread
                ),
                nests=self.nests,
            )
            np.greater(ratio[:, None], 1.0, out=penalised)
            penalised |= wedges.unavailable[:, None]
        return target, penalised, fresh

    def adjust(
        self, t: int, v0: np.ndarray, target: np.ndarray, penalised: np.ndarray
    ) -> np.ndarray:
        """Orders (M, F): the baseline plus the weighted adjustment boxes, each moving toward the
        target's deviation (``calc_box_update`` at ``calc_adjustment_rate_choice``), plus
        anticipation; never negative."""
        w, state = self.work, self.state
        y = state["box_deviation"]  # (M, 3, F)
        ystar = np.subtract(target, v0, out=w.ystar)[:, None]
        gap = np.subtract(ystar, y, out=w.gap)  # y* − y
        gap *= self.adjustment_rates(y, gap, penalised)
        y += gap  # calc_box_update: y + λ·(y* − y)
        orders = w.orders
        np.matmul(self.box_weights[:, None, :], y, out=orders[:, None, :])  # Σ_b α_b · y_b
        orders += v0
        if self.schedule.anticipation:
            orders += self.schedule.anticipation_at(t)
        np.maximum(orders, 0.0, out=orders)
        return orders

    def adjustment_rates(self, y: np.ndarray, gap: np.ndarray, penalised: np.ndarray) -> np.ndarray:
        """Daily rate λ (M, 3, F) of each box and cell: ``calc_adjustment_rate_choice`` written
        into a work array with masked copies of the (M, 3, 1) rates (faster than np.where)."""
        w = self.work
        lam_base, lam_flight, lam_return = self.rates
        down = np.less(gap, 0.0, out=w.down)  # y* < y (exact for finite numbers)
        lam, mask = w.lam, w.mask
        np.copyto(lam, lam_return)
        np.copyto(lam, lam_flight, where=np.logical_and(down, penalised, out=mask))
        np.less(y, 0.0, out=mask)  # below the baseline
        mask |= down
        np.copyto(lam, lam_base, where=np.logical_not(mask, out=mask))
        return lam

    def hold_back(self, capacity_share: np.ndarray, elapsed: np.ndarray) -> np.ndarray:
        """Share of each cell's cargo sent on to its crossing, (M, F): ``calc_hold_back_share``
        (traders hold back cargo for a closed crossing once the closure outlasts their patience;
        held cargo is re-routed like cargo that turns back from the queue)."""
        hold = eq.calc_hold_back_share(
            capacity_share, elapsed, self.draws.params["queue_patience_days"][:, None]
        )
        return np.take(hold, self.network.cells.cell_crossing, axis=1, out=self.work.hold)

    def arrive_and_queue(
        self, orders: np.ndarray, hold_r: np.ndarray, wedges: CellWedges, elapsed: np.ndarray
    ):
        """Arrivals at the border, clearing, spoilage and reneging.

        Fresh orders plus re-routed cargo reaching its new crossing (a first-order delay with
        the new route's transit time) arrive, less what is held back; barred goods and traders
        without a guarantee are stopped at the border and turn back at once. The crossing clears
        ``calc_cleared_share`` of queue plus arrivals, the rest spoils (``calc_spoiled_value``)
        and a share turns back (``calc_renege_share`` at the end-of-day wait).
        """
        w, state, net = self.work, self.state, self.network
        cl, pair, params = net.cells, net.pair, self.draws.params
        pending = state["pending_value"]
        released = np.multiply(pending, net.cell["pending_release"], out=w.released)
        sent = np.add(orders, released, out=w.sent)
        arrivals_r = np.multiply(sent, hold_r, out=w.arrivals)
        arrivals_r *= wedges.admitted  # availability, at most 1 (Schedule.cell_wedges)
        sent -= arrivals_r  # held back
        held_c = cl.cells_to_pairs(sent, out=w.held_c)
        arrivals = cl.cells_to_pairs(arrivals_r, out=w.arrivals_c)  # (M, G)
        queue_prev = state["queue_value"]
        rest = np.add(queue_prev, arrivals, out=w.queue)  # at the border
        trucks = cl.pairs_to_crossing(np.divide(arrivals, pair["vpt"], out=w.pair_tmp))
        phi = eq.calc_cleared_share(state["queue_trucks"], trucks, wedges.capacity)
        cleared = np.take(phi, cl.pair_crossing, axis=1, out=w.cleared)
        cleared *= rest
        rest -= cleared
        spoiled = np.multiply(rest, pair["spoiled_share"], out=w.spoiled)  # calc_spoiled_value
        rest -= spoiled
        q_end = cl.pairs_to_crossing(np.divide(rest, pair["vpt"], out=w.pair_tmp))
        expected = np.maximum(params["closure_expected_days"][:, None], elapsed)
        wait_end = eq.calc_wait_days(q_end, net.capacity, wedges.capacity_share, expected)
        renege = eq.calc_renege_share(wait_end, params["queue_patience_days"][:, None])
        turned = np.take(renege, cl.pair_crossing, axis=1, out=w.turned)
        turned *= rest
        queue = rest
        queue -= turned
        turned += held_c
        # today's queue becomes the state; yesterday's array is tomorrow's work array
        state["queue_value"], w.queue = queue, queue_prev
        return Border(
            arrivals_r, arrivals, released, cleared, spoiled, turned, queue, queue_prev, wait_end
        )

    def reroute(
        self,
        target: np.ndarray,
        hold_r: np.ndarray,
        turned: np.ndarray,
        released: np.ndarray,
        fresh: bool,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Send turned-back and held cargo to other crossings in proportion to open demand there
        (``calc_reroute``); cargo with nowhere open to go is lost.

        Returns ``(lost_turned (M, K), pending_prev_c (M, G))``: the stranded value by
        commodity and yesterday's re-routed cargo by pair.
        """
        w, state, memo, cl = self.work, self.state, self.memo, self.network.cells
        pending = state["pending_value"]
        pending_prev_c = state["pending_by_pair"]  # before release
        # per = turned / excl where excl > max(1e-12 · tot, open floor), else 0 (lost)
        open_target, excl = memo.open_target, memo.excl
        alternative, nowhere = memo.alternative, memo.nowhere
        if memo.stale_open(fresh, hold_r):
            np.multiply(target, hold_r, out=open_target)
            tot = cl.cells_to_commodity(open_target, w.gather)  # (M, K)
            tot = np.take(tot, cl.pair_commodity, axis=1, out=w.tot)  # (M, G)
            np.subtract(tot, cl.cells_to_pairs(open_target, out=excl), out=excl)
            threshold = np.maximum(tot, 1e-300, out=tot)
            threshold *= 1e-12
            np.maximum(threshold, self.network.pair["open_floor"], out=threshold)
            np.greater(excl, threshold, out=alternative)
            np.logical_not(alternative, out=nowhere)
        per = np.divide(turned, excl, out=w.per, where=alternative)
        np.copyto(per, 0.0, where=nowhere)
        stranded = w.pair_tmp  # turned back with nowhere to go
        np.copyto(stranded, turned)
        np.copyto(stranded, 0.0, where=np.greater(per, 0.0, out=w.pair_bool))
        lost_turned = cl.pairs_to_commodity(stranded)  # (M, K)
        # pending' = pending − released + open_target · (Σ_c per − per[c(r)])
        shift = np.take(cl.pairs_to_commodity(per), cl.cell_commodity, axis=1, out=w.shift)
        shift -= np.take(per, cl.cell_pair, axis=1, out=w.tmp)
        shift *= open_target
        pending -= released
        pending += shift
        pending_c = cl.cells_to_pairs(pending, out=w.pending_c)
        state["pending_by_pair"], w.pending_c = pending_c, pending_prev_c
        return lost_turned, pending_prev_c

    def collect(
        self,
        arrivals_r: np.ndarray,
        arrivals: np.ndarray,
        cleared: np.ndarray,
        kappa_r: np.ndarray,
        b: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Compliance (``calc_pair_compliance``: arrival-weighted over the crossing's routes,
        yesterday's where none arrive) and revenue (``calc_customs_revenue``).

        Returns national revenue (M,), pair compliance (M, G) and the day's baseline value
        by pair e0·b (M, G).
        """
        w, state, cl, pair = self.work, self.state, self.network.cells, self.network.pair
        num = cl.cells_to_pairs(np.multiply(arrivals_r, kappa_r, out=w.tmp), out=w.pair_tmp)
        kappa = state["compliance"]
        np.divide(num, arrivals, out=kappa, where=np.greater(arrivals, 0.0, out=w.pair_bool))
        revenue = np.multiply(cleared, pair["rate"], out=w.pair_tmp)  # calc_customs_revenue
        revenue *= kappa
        revenue = revenue.sum(axis=1)
        e0 = np.multiply(pair["e0"], b, out=w.e0)
        return revenue, kappa, e0

    def decompose(
        self, v0, orders, lost_turned, queue, queue_prev, pending_prev_c, e0, cleared, spoiled
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The day's revenue base gap e0 − cleared split into lost, delayed, spoiled and diverted
        (``calc_decomposition``): lost is national (baseline orders not placed and cargo with
        nowhere to go), shared over crossings by baseline share; delayed is the growth of
        queues and re-routed cargo in transit; diverted the rest."""
        w, state, cl = self.work, self.state, self.network.cells
        lost_nat = cl.cells_to_commodity(np.subtract(v0, orders, out=w.tmp), w.gather)
        lost_nat += lost_turned  # (M, K)
        lost = np.take(lost_nat, cl.pair_commodity, axis=1, out=w.lost)
        lost *= self.network.pair["w0"]
        delayed = np.subtract(queue, queue_prev, out=w.delayed)
        delayed += np.subtract(state["pending_by_pair"], pending_prev_c, out=w.pair_tmp)
        diverted = np.subtract(e0, cleared, out=w.diverted)
        diverted -= lost
        diverted -= delayed
        diverted -= spoiled
        return lost, delayed, diverted

    # ------------------------------------------------------------------ state
    def full_state(self) -> dict[str, np.ndarray]:
        """The state after the last day simulated (copies with full shapes, member first).

        ``box_deviation`` (M, 3, R, K) and ``pending_value`` (M, R, K) USD/day and USD,
        ``queue_value`` (M, C, K) USD, ``compliance`` (M, C, K), ``closure_days`` (M, C)
        and ``day`` (days simulated).
        """
        s, cl = self.state, self.network.cells
        return {
            "box_deviation": cl.expand_cells(s["box_deviation"]),
            "queue_value": cl.expand_pairs(s["queue_value"]),
            "pending_value": cl.expand_cells(s["pending_value"]),
            "compliance": cl.expand_pairs(s["compliance"], fill=1.0),
            "closure_days": s["closure_days"].copy(),
            "day": np.array(self.day),
        }


class Memo:
    """What the daily loop may reuse from the day before, and when it may (exactly).

    The target flow (and the penalised flags) depend on the day's measures (their activity
    pattern), the baseline index ``b`` and the cost ratio g/g0 alone; the open demand that
    re-routed cargo is shared out by (and the pairs with an open alternative) on the target
    and the hold-back factor alone. On a day on which these inputs equal yesterday's, bit for
    bit, yesterday's arrays are today's: the comparisons cost a few passes over the arrays,
    recomputing them some twenty (with a power function). Results are identical either way
    (tests/test_model.py::test_memo_is_exact).
    """

    def __init__(self, n_members: int, n_cells: int, n_pairs: int, n_crossings: int) -> None:
        M, F, G = n_members, n_cells, n_pairs
        self.enabled = True
        self.hits = [0, 0]  # days the target, the open demand were reused
        self.key: bytes | None = None
        self.b, self.ratio, self.hold = np.empty((M, 1)), np.empty((M, F)), np.empty((M, F))
        self.target, self.penalised = np.empty((M, F)), np.empty((M, 1, F), bool)
        self.open_target, self.excl = np.empty((M, F)), np.empty((M, G))
        self.alternative, self.nowhere = np.empty((M, G), bool), np.empty((M, G), bool)
        self.same = np.empty((M, F), bool)

    def stale(self, key: bytes, b: np.ndarray, ratio: np.ndarray) -> bool:
        """Whether the target must be recomputed; if so, remembers today's inputs."""
        if (
            self.enabled
            and key == self.key
            and np.array_equal(b, self.b)
            and np.equal(ratio, self.ratio, out=self.same).all()
        ):
            self.hits[0] += 1
            return False
        self.key = key
        np.copyto(self.b, b)
        np.copyto(self.ratio, ratio)
        return True

    def stale_open(self, target_fresh: bool, hold: np.ndarray) -> bool:
        """Whether the open demand must be recomputed; if so, remembers today's hold."""
        if not target_fresh and self.enabled and np.array_equal(hold, self.hold):
            self.hits[1] += 1
            return False
        np.copyto(self.hold, hold)
        return True
