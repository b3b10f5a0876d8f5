"""The economy stage: what the border's day does to Afghan output, revenue, jobs and prices.

:class:`Economy` is stepped by the :class:`~econ.model.model.Model` each day after the engine
(docs/economy.md). It reads the day's cleared imports, the exports lost and the landed-cost
wedges from the engine's :class:`~econ.model.engine.Day`, keeps the national stocks of imported
goods, and returns an :class:`EconomyDay`; the one coupling back is the freight multiplier the
model hands to the engine for the next day (exactly 1 while the fuel price is at its baseline).
The equations are in :mod:`econ.economy`; arrays put the member axis first.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import economy as ec
from ..spec.io_table import IOTable
from .draws import Draws
from .engine import Day
from .network import Network

#: days between revisions of freight tariffs to the fuel price (assumption: road-freight rates are
#: renegotiated about monthly; the pass-through of a fuel price rise to freight takes weeks)
FREIGHT_REVISION_DAYS = 30
#: a domestic input counts as material, and so can ration its buyer, if it is worth at least this
#: share of the buyer's output (A_ij; BoARIO's input-share threshold plays the same role)
MATERIAL_INPUT_SHARE = 0.01
DAYS_PER_YEAR = 365.0


class EconomyDay(NamedTuple):
    """What one day did to the economy, per member."""

    output_loss: np.ndarray  # (M, J) USD of output lost
    domestic_revenue_lost: np.ndarray  # (M,) USD
    employment_loss: np.ndarray  # (M, J) persons out of work that day
    price_index: np.ndarray  # (M, I) staple price / baseline
    supply_ratio: np.ndarray  # (M, Kimp) share of demand for each import group met
    freight_multiplier: np.ndarray  # (M,) freight cost / baseline set for the next day


class Economy:
    """National stocks of imported goods and the sectors that use them (docs/economy.md).

    Parameters
    ----------
    table
        The IO table (:class:`~econ.spec.io_table.IOTable`).
    network, draws
        The run's static network (baseline flows, cell layout) and its members' values.
    baseline_index
        (M, T) multiplier on base-year flows by day; the economy's baseline scales with it.
    """

    def __init__(
        self, table: IOTable, network: Network, draws: Draws, baseline_index: np.ndarray
    ) -> None:
        self.table, self.network, self.baseline_index = table, network, baseline_index
        ids = list(network.commodity_ids)
        self.imp = np.array([ids.index(k) for k in table.import_ids], dtype=int)
        self.exp = np.array([ids.index(k) for k in table.export_ids], dtype=int)
        p = draws.params
        days = p["import_inventory_days"]
        days = days[:, self.imp] if days.ndim == 2 else np.repeat(days[:, None], len(self.imp), 1)
        self.days = days  # (M, Kimp)
        self.psi = p["inventory_rationing_threshold"][:, None]
        self.substitution = p["input_substitution_share"]
        material = (table.a >= MATERIAL_INPUT_SHARE).astype(float)
        self.domestic_criticality = p["domestic_input_criticality"][:, None, None] * material
        self.pass_through = p["staple_cost_pass_through"]
        self.elasticity = (
            table.item_elasticity[None, :] * p["staple_demand_elasticity_scale"][:, None]
        )
        self.fuel_share = p["fuel_share_of_freight"]
        self.fuel_item = table.items.index("fuel") if "fuel" in table.items else None
        cl = network.cells
        # the engine's baseline: imports cleared and their users' shares of them
        self.e0_k = cl.pairs_to_commodity(network.pair["e0"][None, :])[0]  # (K,) USD/day
        with np.errstate(invalid="ignore", divide="ignore"):
            self.use_share = np.where(
                table.import_total[:, None] > 0,
                table.import_use / table.import_total[:, None],
                0.0,
            )  # (Kimp, J)
        self.x0 = table.output / DAYS_PER_YEAR  # (J,) USD/day
        M = draws.n_members
        self.gap = np.zeros((M, len(self.imp)))  # stock minus target (USD)
        self.loss_share = np.zeros((M, table.n_sectors))  # yesterday's ℓ / x0
        self.freight_multiplier = np.ones(M)
        self.fuel_price_sum = np.zeros(M)
        self.day = 0
        #: the compiled stage (econ.model.compiled.CompiledEconomy) when the run's day is compiled
        self.compiled = None

    def step(self, day: Day) -> EconomyDay:
        """One day: stocks, rationing, output loss, revenue, jobs, prices, the freight multiplier
        for tomorrow."""
        if self.compiled is not None:
            return self.compiled.step(day)
        t, net, tab = day.day, self.network, self.table
        cl, cell = net.cells, net.cell
        b = self.baseline_index[:, t][:, None]  # (M, 1)
        base_k = self.e0_k * b  # (M, K) baseline cleared value
        cleared_k = cl.pairs_to_commodity(day.cleared)
        use0 = base_k[:, self.imp]
        arrivals_gap = ec.calc_deviation(cleared_k[:, self.imp], use0)
        target = ec.calc_stock_target(self.days, use0)
        ratio = ec.calc_supply_ratio(self.gap, arrivals_gap, target, use0, self.psi)
        # users want less when they produce less (yesterday's output), and get the ratio r of it
        # row-wise products (not BLAS), so that a member's numbers do not depend on its chunk
        want = 1.0 - (self.loss_share[:, None, :] * self.use_share).sum(axis=-1)  # (M, Kimp)
        use_gap = use0 * (want * ratio - 1.0)
        self.gap = ec.calc_stock_gap(self.gap, arrivals_gap, use_gap)
        constraint = ec.calc_import_constraint(ratio, tab.criticality, self.substitution)
        # exports lost (demand response, cancelled, spoiled) are final demand lost by producers
        lost_k = cl.pairs_to_commodity(day.lost + day.spoiled)[:, self.exp]
        lost_k = np.where(np.abs(lost_k) <= ec.NOISE * base_k[:, self.exp], 0.0, lost_k)
        demand_loss = (lost_k[:, :, None] * tab.export_split).sum(axis=1)  # (M, J)
        x0 = self.x0 * b
        loss = ec.calc_output_loss(x0, tab.a, constraint, demand_loss, self.domestic_criticality)
        self.loss_share = np.divide(loss, x0, out=np.zeros_like(loss), where=x0 > 0)
        revenue = ec.calc_domestic_revenue_lost(loss, tab.tax_rate)
        jobs = ec.calc_employment_loss(loss, x0, tab.employment)
        # landed cost of each import group: the day's wedges on its arriving cargo
        w = day.wedges
        cost_gap = (
            cell["freight"] * (self.freight_multiplier[:, None] - 1.0)
            + cell["delay_cost"] * day.delay
            + w.tariff
            + w.afghan_rate
            + w.guarantee
        )
        arrived = cl.cells_to_commodity(day.arrivals)[:, cl.cell_commodity]
        weight = np.where(arrived > 0.0, day.arrivals, cell["v0"] * b)
        landed = ec.calc_landed_cost_change(
            cost_gap, cell["g0"], weight, cl.cell_commodity, net.n_commodities
        )
        item_k = tab.item_import
        price = ec.calc_staple_price_index(
            landed[:, self.imp][:, item_k],
            ratio[:, item_k],
            self.pass_through,
            tab.item_import_share,
            self.elasticity,
        )
        if self.fuel_item is not None:
            # freight tariffs follow the fuel price with a lag: revised every
            # FREIGHT_REVISION_DAYS from the mean fuel price index of the days since the last
            # revision (docs/economy.md); between revisions route costs are unchanged, so the
            # engine's exact memo can reuse yesterday's route choice
            self.fuel_price_sum = self.fuel_price_sum + price[:, self.fuel_item]
            if (self.day + 1) % FREIGHT_REVISION_DAYS == 0:
                mean = self.fuel_price_sum / FREIGHT_REVISION_DAYS
                self.freight_multiplier = ec.calc_freight_multiplier(mean, self.fuel_share)
                self.fuel_price_sum = np.zeros_like(self.fuel_price_sum)
        self.day += 1
        return EconomyDay(loss, revenue, jobs, price, ratio, self.freight_multiplier.copy())
