"""The daily engine: the state of a run and :meth:`Engine.step`, one day as a short sequence of
processes (docs/model.md §3–6):

    route cost → demand system (target) → volume and route shares adjust → orders placed
    → backlog placed or cancelled → hold-back → arrivals, border caps, queue → re-routing
    → revenue → decomposition

Each process has its reference form in :mod:`econ.equations`; the engine runs it on the cells
and pairs with baseline flow (:class:`~econ.model.network.CellLayout`) with grouped sums that
do not depend on a member's position in the chunk; tests/test_kernels.py checks each process
against its reference on random inputs.

Orders are conserved (docs/model.md §5): the adjustment boxes move each route's *share* of a
commodity's demand, and the volume of demand itself follows the demand system; orders that
leave a route faster than others take them up wait in an order backlog and are placed on open
routes after ``order_replacement_days``, or cancelled at traders' patience when the commodity
has no open route at all. Volume is lost only through the demand response to landed costs,
spoilage and such cancellations.

Symbols (docs/model.md, "Symbols"): ``b`` the baseline index of the day, ``y`` the adjustment
boxes, ``phi`` the cleared share, ``renege`` the share of the queue turning back, ``kappa``
compliance, ``capacity`` trucks/day, ``params`` the members' parameter arrays.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import equations as eq
from .draws import Draws
from .network import Network
from .schedule import CellWedges, Schedule

N_BOXES = 3


class Day(NamedTuple):
    """What one day produced, on cells (M, F), pairs (M, G), crossings (M, C) or members (M,)."""

    day: int
    wedges: CellWedges
    arrivals: np.ndarray  # (M, F) USD reaching the border by route (past hold-back and caps)
    delay: np.ndarray  # (M, F) days beyond the route's baseline (queue wait + extra days)
    cleared: np.ndarray  # (M, G) USD cleared
    revenue_pairs: np.ndarray  # (M, G) USD customs revenue collected
    evaded: np.ndarray  # (M, G) USD of revenue evaded
    rate_change: np.ndarray  # (M, G) USD of revenue lost (+) or gained (−) by Afghan rate changes
    spoiled: np.ndarray  # (M, G) USD spoiled in the queue
    lost: np.ndarray  # (M, G) USD not traded: demand response and cancelled orders
    cancelled: np.ndarray  # (M, G) USD of orders cancelled with no open route
    diverted: np.ndarray  # (M, G) USD: e0 − cleared − lost − delayed − spoiled
    delayed: np.ndarray  # (M, G) USD: growth of queue, re-routed cargo and order backlog
    queue_trucks_pairs: np.ndarray  # (M, G) trucks queuing at day end
    queue_trucks: np.ndarray  # (M, C)
    wait_days: np.ndarray  # (M, C) expected wait at day end
    revenue: np.ndarray  # (M,) national customs revenue
    baseline_revenue: np.ndarray  # (M,)


class Border(NamedTuple):
    """The border's day (:meth:`Engine.arrive_and_queue`)."""

    arrivals: np.ndarray  # (M, F) USD let through to the queue, by route
    arrivals_by_pair: np.ndarray  # (M, G)
    released: np.ndarray  # (M, F) re-routed cargo reaching its new crossing
    cleared: np.ndarray  # (M, G)
    spoiled: np.ndarray  # (M, G)
    turned: np.ndarray  # (M, F) held back or turned back from the queue: to be re-routed
    barred: np.ndarray  # (M, F) stopped by a border cap: back to the order backlog
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

    The day runs the processes below, the reference, unless a compiled day is attached
    (:func:`econ.model.compiled.attach`; :class:`Model` decides, :mod:`econ.model.kernel`):
    then :attr:`compiled` runs it and :attr:`kernel` is ``"numba"``.
    """

    def __init__(
        self,
        network: Network,
        draws: Draws,
        schedule: Schedule,
        baseline_index: np.ndarray,
    ) -> None:
        self.network, self.draws, self.schedule = network, draws, schedule
        self.baseline_index = baseline_index
        self.n_days = baseline_index.shape[1]
        self.day = 0
        M, cl = draws.n_members, network.cells
        F, G, K = cl.n_cells, cl.n_pairs, network.n_commodities
        C = network.n_crossings
        self.state: dict[str, np.ndarray] = {
            "share_box": np.zeros((M, N_BOXES, F)),  # route share minus its baseline share
            "volume_box": np.zeros((M, N_BOXES, K)),  # USD/day, demand minus baseline demand
            "backlog": np.zeros((M, F)),  # USD, orders waiting, by the route they left
            "queue_value": np.zeros((M, G)),  # USD, stock at day end
            "pending_value": np.zeros((M, F)),  # USD, cargo re-routed to the cell's crossing
            "compliance": np.ones((M, G)),  # 1, relative to the baseline
            "rate": np.broadcast_to(network.pair["rate"], (M, G)).copy(),  # collected rate
            "closure_days": np.zeros((M, C)),  # days the crossing has been fully shut
            "queue_trucks": np.zeros((M, C)),  # trucks, Σ_k queue_value / vpt
        }
        self.memo = Memo(M, F, K)
        #: (M,) freight cost relative to the baseline on every route, set each day by the economy
        #: stage from the fuel price (docs/economy.md); exactly 1 without a fuel shock
        self.freight_multiplier = np.ones(M)
        params = draws.params
        # elasticities of the demand tree: ρσr inside a nest, σr between nests, σo between origins
        sigma_r, rho = (
            params["route_substitution_elasticity"],
            params["within_corridor_substitution_ratio"],
        )
        self.eta_cells = sigma_r[:, cl.cell_commodity] * rho[:, None]  # (M, F)
        self.sigma_nests = sigma_r[:, cl.nest_commodity]  # (M, N)
        self.sigma_origins = params["origin_substitution_elasticity"][:, cl.origin_commodity]
        self.patience_cells = params["queue_patience_days"][:, cl.cell_commodity]  # (M, F)
        self.patience_pairs = params["queue_patience_days"][:, cl.pair_commodity]  # (M, G)
        # daily adjustment rates per box (M, 3, 1): at the box's time scale, in flight from a
        # penalised route (faster), and on the way back toward the baseline (slower)
        tau = draws.box_timescales[:, :, None]
        self.rates = (
            eq.calc_adjustment_rate(tau, 1.0),
            eq.calc_adjustment_rate(tau * params["flight_speed_factor"][:, None, None], 1.0),
            eq.calc_adjustment_rate(tau * params["return_slowdown_factor"][:, None, None], 1.0),
        )
        self.box_weights = draws.box_weights  # (M, 3)
        # baseline demand by commodity and origin group (USD/day, before the baseline index)
        self.v0_k = cl.cells_to_commodity(network.cell["v0"])  # (K,)
        self.v0_nest = cl.cells_to_nest(network.cell["v0"])  # (N,)
        self.compiled = None  # the compiled day, if attached (econ.model.compiled)
        self.kernel = "numpy"

    # ------------------------------------------------------------------ the day
    def step(self, one: bool = False) -> Day:
        """Advance one day; returns what it produced (:class:`Day`). ``one``: as
        :meth:`CompiledDay.step <econ.model.compiled.CompiledDay.step>` (the numpy day
        ignores it)."""
        if self.day >= self.n_days:
            raise RuntimeError("the scenario horizon is over")
        t = self.day
        state, net = self.state, self.network
        cl, cell, pair = net.cells, net.cell, net.pair
        wedges = self.schedule.cell_wedges(t)
        if self.compiled is not None:
            day = self.compiled.step(t, wedges, one)
            self.day += 1
            return day
        b = self.baseline_index[:, t][:, None]  # (M, 1)
        v0 = cell["v0"] * b  # (M, F)
        demand0 = self.v0_k * b  # (M, K)
        elapsed, delay, ratio = self.route_cost(wedges)
        relative, price, penalised = self.route_choice(t, b, ratio, wedges)
        demand, target = self.demand(demand0, relative, price, v0)
        volume = self.adjust_volume(demand0, demand)
        placed, unplaced = self.adjust_shares(relative, penalised, volume)
        if self.schedule.anticipation:
            placed = np.maximum(placed + self.schedule.anticipation_at(t), 0.0)
        hold = self.hold_back(wedges.capacity_share, elapsed)
        open_demand = target * hold
        backlog_prev = state["backlog"]
        # waiting orders and turned-back cargo go only to routes whose crossing is open: a
        # trader re-placing an order does not send it to a crossing that is shut (the cargo
        # still sent there is what was already under way, and it queues)
        open_now = np.where(wedges.capacity_share[:, cl.cell_crossing] > 0.0, open_demand, 0.0)
        from_backlog, cancelled = self.release_backlog(open_now, placed, demand0, unplaced)
        border = self.arrive_and_queue(placed + from_backlog, hold, wedges, elapsed, v0)
        pending_prev = state["pending_value"]
        self.reroute(open_now, border, b)
        revenue_pairs, evaded, rate_change, e0 = self.collect(border, wedges, b)
        demand_lost = demand0 - cl.cells_to_commodity(placed) - cl.cells_to_commodity(unplaced)
        lost, delayed, diverted, cancelled_pairs = self.decompose(
            demand_lost, target, e0, border, cancelled, pending_prev, backlog_prev
        )
        qt_ck = border.queue / pair["vpt"]
        qt = cl.pairs_to_crossing(qt_ck)
        state["queue_trucks"] = qt
        self.day += 1
        return Day(
            t,
            wedges,
            border.arrivals,
            delay,
            border.cleared,
            revenue_pairs,
            evaded,
            rate_change,
            border.spoiled,
            lost,
            cancelled_pairs,
            diverted,
            delayed,
            qt_ck,
            qt,
            border.wait_end,
            revenue_pairs.sum(axis=1),
            (e0 * pair["rate"]).sum(axis=1),
        )

    # ------------------------------------------------------------------ processes
    def route_cost(self, wedges: CellWedges) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Closure clock, delay and the cost ratio g/g0 of every cell at the start-of-day queue.

        Returns ``elapsed`` (M, C) days a crossing has been fully shut, ``delay`` (M, F) days
        beyond the baseline (``calc_wait_days`` + extra days) and ``ratio`` (M, F) g/g0
        (``calc_generalized_cost``, the Afghan rate change counted with the fees). A partial
        capacity cut acts through the queue only.
        """
        state, params, net = self.state, self.draws.params, self.network
        cell = net.cell
        cap = wedges.capacity_share
        elapsed = np.where(cap <= 0.0, state["closure_days"] + 1.0, 0.0)
        state["closure_days"] = elapsed
        expected = np.maximum(params["closure_expected_days"][:, None], elapsed)
        wait = eq.calc_wait_days(state["queue_trucks"], wedges.capacity, net.capacity, expected)
        delay = wait[:, net.cells.cell_crossing] + wedges.extra_days
        g = eq.calc_generalized_cost(
            cell["freight"] * self.freight_multiplier[:, None],
            cell["delay_cost"],
            cell["route_days0"] + delay,
            wedges.tariff + wedges.afghan_rate,
            wedges.guarantee,
        )
        # g0: the network's, with the base year's own fees and guarantee costs if any
        return elapsed, delay, g / wedges.g0

    def route_choice(
        self, t: int, b: np.ndarray, ratio: np.ndarray, wedges: CellWedges
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Target shares relative to the baseline (M, F) and the price index (M, K) of the
        three-level demand tree (``calc_nested_shares``), and which cells are penalised
        (M, 1, F): dearer than in the baseline, or less available.

        Recomputed only when its inputs changed since yesterday: an exact memo (:class:`Memo`).
        """
        memo, net = self.memo, self.network
        if memo.stale(self.schedule.day_pattern[t], ratio):
            relative, price = eq.calc_nested_shares(
                net.cell["s0"],
                wedges.availability,
                ratio,
                self.eta_cells,
                self.sigma_nests,
                self.sigma_origins,
                net.cells,
            )
            memo.keep(relative, price, (ratio > 1.0) | wedges.unavailable)
        return memo.relative, memo.price, memo.penalised[:, None]

    def demand(
        self, demand0: np.ndarray, relative: np.ndarray, price: np.ndarray, v0: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The demand system's volume X* = X0·b·PI^(−ε) (M, K) and target flow
        q* = v0·b·(share/s0)·PI^(−ε) (M, F) (``calc_target_flow``)."""
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            vol = np.where(
                np.isfinite(price), price ** -self.draws.params["import_demand_elasticity"], 0.0
            )
        target = v0 * relative * vol[:, self.network.cells.cell_commodity]
        return demand0 * vol, target

    def adjust_volume(self, demand0: np.ndarray, demand: np.ndarray) -> np.ndarray:
        """Demand volume (M, K) after the adjustment boxes, each moving toward X* − X0·b at its
        own time scale in both directions (``calc_box_update``)."""
        y = self.state["volume_box"]
        y += self.rates[0] * ((demand - demand0)[:, None, :] - y)
        moved = np.einsum("mj,mjk->mk", self.box_weights, y)
        return np.maximum(demand0 + moved, 0.0)

    def adjust_shares(
        self, relative: np.ndarray, penalised: np.ndarray, volume: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Orders placed (M, F) and left unplaced (M, F): route shares move toward the target
        through the boxes at asymmetric speeds (``calc_adjustment_rate_choice``, flight from a
        penalised route faster than uptake of alternatives, return slower), and
        ``calc_order_placement`` turns them into orders without creating or destroying any."""
        net = self.network
        s0 = net.cell["s0"]
        y = self.state["share_box"]
        ystar = (s0 * (relative - 1.0))[:, None, :]
        lam = eq.calc_adjustment_rate_choice(y, ystar, penalised, *self.rates)
        y += lam * (ystar - y)  # calc_box_update
        share = np.maximum(s0 + np.einsum("mj,mjf->mf", self.box_weights, y), 0.0)
        cl = net.cells
        total = cl.cells_to_commodity(share)
        placed = volume[:, cl.cell_commodity] * share / np.maximum(1.0, total)[:, cl.cell_commodity]
        short = (volume * np.maximum(0.0, 1.0 - total))[:, cl.cell_commodity]
        lost_share = np.maximum(0.0, s0 - share)
        weight = cl.cells_to_commodity(lost_share)[:, cl.cell_commodity]
        unplaced = np.divide(
            short * lost_share, weight, out=np.zeros_like(short), where=weight > 0.0
        )
        return placed, unplaced

    def hold_back(self, capacity_share: np.ndarray, elapsed: np.ndarray) -> np.ndarray:
        """Share of each cell's cargo still sent to its crossing, (M, F): ``calc_hold_back_share``
        at the commodity's patience (perishables are held back sooner)."""
        cc = self.network.cells.cell_crossing
        return eq.calc_hold_back_share(capacity_share[:, cc], elapsed[:, cc], self.patience_cells)

    def release_backlog(
        self,
        open_demand: np.ndarray,
        placed: np.ndarray,
        demand0: np.ndarray,
        unplaced: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Place or cancel waiting orders (``calc_backlog_release``); add today's unplaced
        orders. Waiting orders go where open demand is not yet met by today's orders,
        max(0, open − placed) (the routes taking up the trade), else where demand is open.
        Returns orders placed from the backlog by destination cell and orders cancelled by
        origin cell (M, F)."""
        cl, backlog = self.network.cells, self.state["backlog"]
        # an open route must carry at least 0.1% of the commodity's baseline flow: cargo does not
        # cycle between crossings that are all (almost) shut
        open_k = cl.cells_to_commodity(open_demand)
        has_open = open_k > 1e-3 * demand0
        unmet = np.maximum(open_demand - placed, 0.0)
        some = (cl.cells_to_commodity(unmet) > 1e-12 * open_k)[:, cl.cell_commodity]
        destination = np.where(some, unmet, open_demand)
        out, taken, cancelled = eq.calc_backlog_release(
            backlog,
            destination,
            has_open,
            self.draws.params["order_replacement_days"][:, None],
            self.patience_cells,
            cl.cell_commodity,
            self.network.n_commodities,
        )
        self.state["backlog"] = backlog - taken - cancelled + unplaced
        return out, cancelled

    def arrive_and_queue(
        self,
        orders: np.ndarray,
        hold: np.ndarray,
        wedges: CellWedges,
        elapsed: np.ndarray,
        v0: np.ndarray,
    ) -> Border:
        """Arrivals at the border, caps, clearing, spoilage and reneging.

        Orders plus re-routed cargo reaching its new crossing (a first-order delay with the new
        route's transit time) are sent; the held-back share waits. Restrictions and the
        guarantee's exclusion cap the restricted routes of a corridor nest jointly at
        Σ availability × v0·b (``calc_border_cap``: a quantity cap, shares of the routes'
        baseline flow); the excess turns back. The
        crossing clears ``calc_cleared_share`` of queue plus arrivals, the rest spoils
        (``calc_spoiled_value``) and a share turns back (``calc_renege_share`` at the
        end-of-day wait and the commodity's patience).
        """
        state, net = self.state, self.network
        cl, pair, params = net.cells, net.pair, self.draws.params
        released = state["pending_value"] * net.cell["pending_release"]
        sent = orders + released
        arrivals = sent * hold
        held = sent - arrivals
        # restrictions and the guarantee's exclusion cap the restricted routes of a nest jointly
        # (calc_border_cap); ``admitted`` is the availability, at most 1 relative to a base year
        # with standing measures (Schedule.cell_wedges): lifting a base-year measure caps nothing
        restricted = wedges.admitted < 1.0
        load = cl.cells_to_nest(np.where(restricted, arrivals, 0.0))
        cap = cl.cells_to_nest(np.where(restricted, wedges.admitted * v0, 0.0))
        factor = np.divide(cap, load, out=np.ones_like(cap), where=load > cap)
        allowed = np.where(restricted, arrivals * factor[:, cl.cell_nest], arrivals)
        # barred cargo cannot get round a quota by trying another crossing of the corridor (the
        # cap is the corridor's): it goes back to the order backlog, to be placed where demand
        # is unmet; cargo held back from a shut crossing, or turned back from its queue, is
        # re-routed to the corridor's other crossings
        barred = arrivals - allowed
        turned = held
        allowed_c = cl.cells_to_pairs(allowed)
        queue_prev = state["queue_value"]
        rest = queue_prev + allowed_c
        trucks = cl.pairs_to_crossing(allowed_c / pair["vpt"])
        phi = eq.calc_cleared_share(state["queue_trucks"], trucks, wedges.capacity)
        cleared = phi[:, cl.pair_crossing] * rest
        rest = rest - cleared
        spoiled = rest * pair["spoiled_share"]  # calc_spoiled_value
        rest = rest - spoiled
        q_end = cl.pairs_to_crossing(rest / pair["vpt"])
        expected = np.maximum(params["closure_expected_days"][:, None], elapsed)
        wait_end = eq.calc_wait_days(q_end, wedges.capacity, net.capacity, expected)
        renege = eq.calc_renege_share(wait_end[:, cl.pair_crossing], self.patience_pairs)
        turned_q = renege * rest
        queue = rest - turned_q
        # the queue's turned-back cargo goes back to its routes in proportion to today's
        # arrivals (baseline flows where none arrived)
        v0_pair = cl.cells_to_pairs(v0)[:, cl.cell_pair]
        arr_pair = allowed_c[:, cl.cell_pair]
        split = np.where(
            arr_pair > 0.0,
            allowed / np.where(arr_pair > 0.0, arr_pair, 1.0),
            np.divide(v0, v0_pair, out=np.zeros_like(v0), where=v0_pair > 0.0),
        )
        turned = turned + turned_q[:, cl.cell_pair] * split
        state["queue_value"] = queue
        return Border(
            allowed,
            allowed_c,
            released,
            cleared,
            spoiled,
            turned,
            barred,
            queue,
            queue_prev,
            wait_end,
        )

    def reroute(self, open_demand: np.ndarray, border: Border, b: np.ndarray) -> None:
        """Send turned-back and held cargo to other crossings of its corridor (the same
        goods from the same port or origin: a truck at Peshawar does not reach Iran) in
        proportion to open demand there (``calc_reroute``), as pending cargo that arrives after
        the new route's transit time; cargo with no open crossing in its corridor waits in the
        order backlog, from which orders are placed on any open route."""
        state, cl = self.state, self.network.cells
        total = cl.cells_to_nest(open_demand)
        own = cl.cells_to_npair(open_demand)
        turned_m = cl.cells_to_npair(border.turned)
        total_m = total[:, cl.npair_nest]
        alternative = cl.others_in_nest(own)  # not total_m − own (CellLayout.others_in_nest)
        floor = (1e-3 * self.v0_nest * b)[:, cl.npair_nest]
        threshold = np.maximum(np.maximum(total_m, 1e-300) * 1e-12, floor)
        has = alternative > threshold
        per = np.divide(turned_m, alternative, out=np.zeros_like(turned_m), where=has)
        received = open_demand * cl.others_in_nest(per)[:, cl.cell_npair]
        stranded = np.where(per[:, cl.cell_npair] > 0.0, 0.0, border.turned)
        state["pending_value"] = state["pending_value"] - border.released + received
        state["backlog"] = state["backlog"] + stranded + border.barred

    def collect(
        self, border: Border, wedges: CellWedges, b: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Revenue (``calc_customs_revenue``) at each pair's collected rate and compliance, both
        arrival-weighted over the pair's routes (``calc_pair_mean``; yesterday's where nothing
        arrives). Returns revenue, revenue evaded, revenue lost to rate changes (all (M, G),
        USD) and the day's baseline value by pair e0·b (M, G)."""
        state, cl, pair = self.state, self.network.cells, self.network.pair
        arrivals, arrivals_c = border.arrivals, border.arrivals_by_pair
        some = arrivals_c > 0.0
        # written as deviations from the baseline rate and from full compliance, so that pairs
        # without a measure keep exactly τ and 1
        rate, kappa = state["rate"], state["compliance"]
        mean = np.zeros_like(arrivals_c)
        np.divide(
            cl.cells_to_pairs(arrivals * wedges.afghan_rate), arrivals_c, out=mean, where=some
        )
        np.add(pair["rate"], mean, out=rate, where=some)
        np.divide(
            cl.cells_to_pairs(arrivals * (1.0 - wedges.compliance)),
            arrivals_c,
            out=mean,
            where=some,
        )
        np.subtract(1.0, mean, out=kappa, where=some)
        cleared = border.cleared
        revenue = eq.calc_customs_revenue(cleared, rate, kappa)
        evaded = cleared * rate * (1.0 - kappa)
        rate_change = cleared * (pair["rate"] - rate)
        return revenue, evaded, rate_change, pair["e0"] * b

    def decompose(
        self,
        demand_lost: np.ndarray,
        target: np.ndarray,
        e0: np.ndarray,
        border: Border,
        cancelled: np.ndarray,
        pending_prev: np.ndarray,
        backlog_prev: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The day's gap e0·b − cleared split into lost, delayed, spoiled and diverted
        (``calc_decomposition``), with lost demand booked where the target fell short of the
        baseline (``calc_demand_loss_weights``). Returns lost, delayed, diverted and cancelled
        by pair (M, G)."""
        state, net = self.state, self.network
        cl = net.cells
        short = np.maximum(e0 - cl.cells_to_pairs(target), 0.0)
        tot = cl.pairs_to_commodity(short)[:, cl.pair_commodity]
        weight = np.where(tot > 0.0, short / np.where(tot > 0.0, tot, 1.0), net.pair["w0"])
        cancelled_c = cl.cells_to_pairs(cancelled)
        lost = demand_lost[:, cl.pair_commodity] * weight + cancelled_c
        delayed = (
            (border.queue - border.queue_prev)
            + cl.cells_to_pairs(state["pending_value"] - pending_prev)
            + cl.cells_to_pairs(state["backlog"] - backlog_prev)
        )
        diverted = e0 - border.cleared - lost - delayed - border.spoiled
        return lost, delayed, diverted, cancelled_c

    # ------------------------------------------------------------------ state
    def full_state(self) -> dict[str, np.ndarray]:
        """The state after the last day simulated (copies with full shapes, member first).

        ``share_box`` (M, 3, R, K) route shares minus baseline shares; ``volume_box`` (M, 3, K)
        USD/day; ``backlog`` and ``pending_value`` (M, R, K) USD; ``queue_value`` (M, C, K)
        USD; ``compliance`` (M, C, K); ``closure_days`` (M, C) and ``day`` (days simulated).
        """
        s, cl = self.state, self.network.cells
        return {
            "share_box": cl.expand_cells(s["share_box"]),
            "volume_box": s["volume_box"].copy(),
            "backlog": cl.expand_cells(s["backlog"]),
            "queue_value": cl.expand_pairs(s["queue_value"]),
            "pending_value": cl.expand_cells(s["pending_value"]),
            "compliance": cl.expand_pairs(s["compliance"], fill=1.0),
            "closure_days": s["closure_days"].copy(),
            "day": np.array(self.day),
        }


class Memo:
    """Yesterday's demand tree, reused when its inputs are bit for bit unchanged.

    The target shares, price index and penalised flags depend on the day's measures (their
    activity pattern) and the cost ratio g/g0 alone. On a day on which these equal yesterday's,
    yesterday's arrays are today's: the comparison costs a pass over the arrays, recomputing the
    tree some thirty. Results are identical either way (tests/test_model.py::test_memo_is_exact).
    """

    def __init__(self, n_members: int, n_cells: int, n_commodities: int) -> None:
        self.enabled = True
        self.hits = 0  # days the tree was reused
        self.key: bytes | None = None
        self.ratio = np.empty((n_members, n_cells))
        self.relative = np.empty((n_members, n_cells))
        self.price = np.empty((n_members, n_commodities))
        self.penalised = np.empty((n_members, n_cells), bool)

    def stale(self, key: bytes, ratio: np.ndarray) -> bool:
        """Whether the tree must be recomputed; if so, remembers today's inputs."""
        if self.enabled and key == self.key and np.array_equal(ratio, self.ratio):
            self.hits += 1
            return False
        self.key = key
        np.copyto(self.ratio, ratio)
        return True

    def keep(self, relative: np.ndarray, price: np.ndarray, penalised: np.ndarray) -> None:
        np.copyto(self.relative, relative)
        np.copyto(self.price, price)
        np.copyto(self.penalised, penalised)
