"""Who pays: trader-group costs and pressure, Pakistan's side of the ledger, leverage decay.

This is model-layer code: it takes the per-period sums the run record
(:class:`~econ.model.record.RunRecord`) accumulates (numpy arrays with leading ``member`` and
``period`` axes) and the static mappings built from the inputs, and returns numpy arrays. No
I/O, no xarray.

Attribution rules (docs/model.md §7):

* Fees, guarantee costs and capital locked are paid on the route a consignment uses and
  are borne by the cargo owners trading through that route's crossing.
* Spoilage destroys the cargo owner's goods at the crossing where they queue.
* Demurrage (trucks waiting × daily cost) is borne by the truckers' group(s).
* The extra freight and time cost of the new route mix and the margin lost on trade
  forgone are national per commodity; they are charged to the crossings whose trade fell
  (in proportion to each crossing's shortfall against its baseline), because the traders
  who re-route or give up are those whose usual crossing was hit. When no crossing's trade
  fell, baseline crossing shares are used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import equations as eq

#: trader cost components (dimension ``component``)
COMPONENTS = ("fees", "guarantee", "extra_transport", "demurrage", "spoilage", "margin_lost")
#: which components each margin basis bears: cargo owners (goods) or truckers (freight)
BEARS = {
    "goods": ("fees", "guarantee", "extra_transport", "spoilage", "margin_lost"),
    "freight": ("demurrage", "margin_lost"),
}
#: Pakistan's ledger (dimension ``pakistan_component``), like for like with the Afghan side:
#: fiscal lines (its treasury's: fees gained, customs and provincial cess lost) and value added
#: lines (its exporters' and transporters' direct value added lost); docs/model.md §8
PAKISTAN_COMPONENTS = (
    "fees_collected",
    "customs_levies_lost",
    "provincial_cess_lost",
    "export_value_added_lost",
    "transport_value_added_lost",
)
DAYS_PER_MONTH = 365.25 / 12.0


@dataclass(frozen=True)
class GroupMap:
    """Trader groups resolved against the model's crossings and commodities.

    ``weight[g, c, k]`` is the share of the (crossing, commodity) cell's trade (goods
    basis) or trucking (freight basis) the group handles; ``margin[g, c, k]`` its gross
    margin per USD of goods value in the cell.
    """

    ids: list[str]
    names: list[str]
    kinds: list[str]
    basis: list[str]
    weight: np.ndarray  # (G, C, K)
    goods_margin: np.ndarray  # (G, C, K) commodity margin (0 for freight basis)
    freight_share: np.ndarray  # (C, K) freight bill per USD of goods value
    is_freight: np.ndarray  # (G,) bool: margin is a share of the freight bill
    working_capital_days: np.ndarray  # (G,)
    bears: np.ndarray  # (G, n_components) bool

    def working_capital(self, daily_value: np.ndarray) -> np.ndarray:
        """Working capital (G,) USD: turnover per day (goods value, or freight bill) × days held."""
        turnover = (
            np.where(self.is_freight[:, None, None], self.freight_share[None], 1.0)
            * daily_value[None]
        )
        return (self.weight * turnover).sum(axis=(1, 2)) * self.working_capital_days

    def margin(self, trucking_margin: np.ndarray) -> np.ndarray:
        """Gross margin per USD of goods value, (M, G, C, K), for member trucking margins (M,)."""
        tm = np.asarray(trucking_margin, float)[:, None, None, None]
        return (
            self.goods_margin[None]
            + self.is_freight[None, :, None, None] * tm * self.freight_share[None, None]
        )


def _items(cell: str, universe: list[str]) -> list[str]:
    items = [s.strip() for s in str(cell).split(";") if s.strip()]
    return list(universe) if "*" in items else items


def build_group_map(
    groups: pd.DataFrame,
    crossing_ids: list[str],
    commodity_ids: list[str],
    is_import: np.ndarray,
    commodity_margin: np.ndarray,
    freight_share_ck: np.ndarray,
) -> GroupMap:
    """Resolve ``trader_groups.csv`` rows (validated by :func:`econ.load_inputs`).

    Importer groups match import commodities only, exporter groups export commodities
    only, trucker groups both. ``freight_share_ck`` (C, K) is the baseline flow-weighted
    freight share of value in each cell; a freight-basis group's margin is the
    ``trucking_gross_margin`` parameter × that share (see :meth:`GroupMap.margin`).
    """
    C, K = len(crossing_ids), len(commodity_ids)
    cidx = {c: i for i, c in enumerate(crossing_ids)}
    kidx = {k: i for i, k in enumerate(commodity_ids)}
    G = len(groups)
    weight = np.zeros((G, C, K))
    margin = np.zeros((G, C, K))
    freight = np.zeros(G, bool)
    bears = np.zeros((G, len(COMPONENTS)), bool)
    for g, (_, row) in enumerate(groups.iterrows()):
        cs = [cidx[c] for c in _items(row["crossings"], crossing_ids)]
        ks = np.zeros(K, bool)
        ks[[kidx[k] for k in _items(row["commodities"], commodity_ids)]] = True
        if row["kind"] == "importer":
            ks &= is_import
        elif row["kind"] == "exporter":
            ks &= ~is_import
        weight[g, np.ix_(cs)[0][:, None], np.flatnonzero(ks)[None, :]] = float(row["share"])
        if row["margin_basis"] == "freight":
            freight[g] = True
        else:
            margin[g] = commodity_margin[None, :]
        bears[g] = [c in BEARS[row["margin_basis"]] for c in COMPONENTS]
    return GroupMap(
        list(groups.index),
        list(groups["name"]),
        list(groups["kind"]),
        list(groups["margin_basis"]),
        weight,
        margin,
        np.asarray(freight_share_ck, float),
        freight,
        groups["working_capital_days"].to_numpy(float),
        bears,
    )


def loss_shares(baseline: np.ndarray, actual: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Share of each crossing in the national shortfall, per commodity   [1]

    ``baseline``, ``actual``: (..., C, K); ``fallback`` (C, K) is used where no crossing
    fell short (shares over C sum to one per commodity wherever there is trade).
    """
    short = np.maximum(baseline - actual, 0.0)
    tot = short.sum(axis=-2, keepdims=True)
    scale = baseline.sum(axis=-2, keepdims=True)
    use = tot > 1e-9 * np.maximum(scale, 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(use, short / np.where(use, tot, 1.0), fallback)


def accumulate_pressure(
    pressure: np.ndarray, days: np.ndarray, half_life_days: np.ndarray
) -> np.ndarray:
    """Accumulated pressure per period (months of baseline margin, decaying)   [month]

    ``pressure`` (M, P, G) is extra cost ÷ baseline margin in each period, ``days`` (P,)
    the period lengths and ``half_life_days`` (M,). Treating pressure as constant within
    a period, the stock A(t) = ∫ p(s)·2^(−(t−s)/h) ds (in months) updates exactly as
    A' = A·k + p·(1 − k)·h/(ln 2 · 30.44), k = 2^(−d/h).
    """
    M, P = pressure.shape[:2]
    h = half_life_days.reshape((M,) + (1,) * (pressure.ndim - 2))
    tau_months = h / math.log(2.0) / DAYS_PER_MONTH
    out = np.empty_like(pressure)
    acc = np.zeros_like(pressure[:, 0])
    for p in range(P):
        # calc_accumulated_pressure is the EWMA form; times τ it is the decaying stock
        acc = eq.calc_accumulated_pressure(acc, pressure[:, p] * tau_months, h, days[p])
        out[:, p] = acc
    return out


def trader_ledger(
    out: dict[str, np.ndarray],
    gm: GroupMap,
    B: np.ndarray,
    w0: np.ndarray,
    days: np.ndarray,
    params: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Trader-group costs, pressure and protest risk per period.

    Parameters
    ----------
    out
        The model's per-period sums (see ``Model.out``), each (M, P, ...).
    gm
        Resolved trader groups.
    B
        (R, C) route → crossing incidence; ``w0`` (C, K) baseline crossing shares.
    days
        (P,) days in each period.
    params
        Member values of ``trucking_gross_margin``, ``pressure_half_life_days``,
        ``protest_risk_intercept`` and ``protest_risk_slope`` (each (M,)).

    Returns
    -------
    dict with ``trader_cost`` (M, P, G, n_components) USD, ``trader_baseline_margin``
    (M, P, G) USD, ``trader_capital_locked`` (M, P, G) USD, ``trader_pressure`` (M, P, G),
    ``trader_pressure_accumulated`` (M, P, G) months and ``protest_risk`` (M, P, G).
    """
    to_c = lambda a: np.einsum("rc,mprk->mpck", B, a)  # noqa: E731
    base_ck, trade_ck = out["baseline_trade_value"], out["trade_value"]
    share = loss_shares(base_ck, trade_ck, w0)  # (M, P, C, K)
    extra_k = out["extra_transport_cost"].sum(axis=2)  # (M, P, K)
    lost_k = out["trade_lost_value"].sum(axis=2)  # (M, P, K)
    lost_ck = share * lost_k[:, :, None, :]
    margin = gm.margin(params["trucking_gross_margin"])  # (M, G, C, K)
    cells = {
        "fees": to_c(out["tariff_paid"]),
        "guarantee": to_c(out["guarantee_cost"]),
        "extra_transport": share * extra_k[:, :, None, :],
        "demurrage": out["demurrage_cost"],
        "spoilage": out["spoiled_value"],
    }
    G = len(gm.ids)
    M, P = base_ck.shape[:2]
    cost = np.zeros((M, P, G, len(COMPONENTS)))
    for j, comp in enumerate(COMPONENTS):
        if comp == "margin_lost":
            # margin on forgone goods value: commodity margin (cargo owners) or the
            # trucking margin on the forgone freight bill (truckers)
            val = np.einsum("gck,mgck,mpck->mpg", gm.weight, margin, lost_ck)
        else:
            val = np.einsum("gck,mpck->mpg", gm.weight, cells[comp])
        cost[..., j] = np.where(gm.bears[:, j], val, 0.0)
    margin0 = np.einsum("gck,mgck,mpck->mpg", gm.weight, margin, base_ck)
    locked = np.einsum("gck,mpck->mpg", gm.weight, to_c(out["capital_locked"]))
    locked = np.where(gm.bears[:, COMPONENTS.index("guarantee")], locked, 0.0)
    pressure = eq.calc_pressure(cost.sum(axis=-1), margin0)
    acc = accumulate_pressure(pressure, days, params["pressure_half_life_days"])
    a = params["protest_risk_intercept"][:, None, None]
    b = params["protest_risk_slope"][:, None, None]
    risk = eq.calc_protest_risk(acc, a, b)
    return {
        "trader_cost": cost,
        "trader_baseline_margin": margin0,
        "trader_capital_locked": locked,
        "trader_pressure": pressure,
        "trader_pressure_accumulated": acc,
        "protest_risk": risk,
    }


def pakistan_ledger(
    out: dict[str, np.ndarray],
    pak_export: np.ndarray,
    pak_transit: np.ndarray,
    pak_route: np.ndarray,
    freight_r: np.ndarray,
    pak_levy: np.ndarray,
    export_va_share: np.ndarray,
    transport_va_share: np.ndarray,
) -> np.ndarray:
    """Pakistan's side per period, (M, P, 5) USD, in :data:`PAKISTAN_COMPONENTS` order.

    Fiscal: ``fees_collected`` (fees paid on routes through Pakistan, ``pak_route`` (R, 1)),
    ``customs_levies_lost`` and ``provincial_cess_lost`` (``pak_levy`` (2, R, K) per USD
    times the value shortfall on each route). Value added: ``export_value_added_lost`` (the
    shortfall of Afghan imports of Pakistani goods, ``pak_export`` (R, K), times the direct
    value-added share of Pakistan's exporting industries, ``export_va_share`` (M,)) and
    ``transport_value_added_lost`` (the freight bill of the Pakistani leg of transit lost,
    ``pak_transit`` (R, 1) × ``freight_r`` (R, 1), times ``transport_va_share`` (M,)).
    Shortfalls are net over all routes, so trade diverted between Pakistani crossings is not
    counted, and a gain (e.g. third-country goods replaced by Pakistani ones) is negative.
    """
    short = out["baseline_route_trade_value"] - out["route_trade_value"]  # (M, P, R, K)
    fees = (out["tariff_paid"] * pak_route).sum(axis=(2, 3))
    customs = (short * pak_levy[0]).sum(axis=(2, 3))
    cess = (short * pak_levy[1]).sum(axis=(2, 3))
    exports = (short * pak_export).sum(axis=(2, 3)) * export_va_share[:, None]
    handling = (short * freight_r * pak_transit).sum(axis=(2, 3)) * transport_va_share[:, None]
    return np.stack([fees, customs, cess, exports, handling], axis=-1)


def pakistan_fiscal_net_cost(ledger: np.ndarray) -> np.ndarray:
    """Pakistan's net fiscal cost = customs levies lost + provincial cess lost − fees   [USD]"""
    return ledger[..., 1] + ledger[..., 2] - ledger[..., 0]


def pakistan_value_added_lost(ledger: np.ndarray) -> np.ndarray:
    """Pakistan's direct value added lost = exporters' + transporters'   [USD]"""
    return ledger[..., 3] + ledger[..., 4]


def afghan_value_added_lost(
    lost_ck: np.ndarray, margin: np.ndarray, freight_ck: np.ndarray, trucking_margin: np.ndarray
) -> np.ndarray:
    """Afghan traders' and truckers' direct value added lost on trade forgone, (M, P)   [USD]

    ``lost_ck`` (M, P, C, K) is the value of trade that did not happen (demand response and
    cancelled orders), ``margin`` (K,) the traders' gross margin per USD, ``freight_ck`` (C, K)
    the freight bill per USD and ``trucking_margin`` (M,) the truckers' margin on it: the
    Afghan counterpart of :func:`pakistan_value_added_lost` (customs is the fiscal line).
    """
    per_usd = margin[None, None, :] + trucking_margin[:, None, None] * freight_ck[None]
    return np.einsum("mpck,mck->mp", lost_ck, per_usd)


def exchange_ratio(
    afghan_loss: np.ndarray,
    pakistan_cost: np.ndarray,
    *,
    cumulative: bool,
    atol: float = 0.0,
) -> np.ndarray:
    """Afghan loss per USD of Pakistan's cost, like for like (fiscal or value added)   [1]

    ``afghan_loss`` and ``pakistan_cost`` are (M, P). Where Pakistan's cost is positive the
    ratio is their quotient. Where Pakistan gives up nothing or gains (cost ≤ ``atol``) while
    Afghanistan loses (> ``atol``) the ratio is ``+inf``: leverage that costs Pakistan
    nothing on that account. Where neither side loses it is NaN (nothing to compare).
    """
    if cumulative:
        afghan_loss = np.cumsum(afghan_loss, axis=1)
        pakistan_cost = np.cumsum(pakistan_cost, axis=1)
    pos = pakistan_cost > atol
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = afghan_loss / np.where(pos, pakistan_cost, 1.0)
    return np.where(pos, ratio, np.where(afghan_loss > atol, np.inf, np.nan))


def leverage_half_life(loss: np.ndarray, period_days: np.ndarray, atol: float = 0.0) -> np.ndarray:
    """Months from the peak revenue loss until the loss per day first halves   (M,)

    ``loss`` (M, P) is the treasury's revenue loss per period and ``period_days`` (P,)
    the period lengths; losses are compared per day so that short and long months are
    alike. The crossing below half the peak is interpolated linearly between period
    midpoints. NaN when there is no loss (peak loss per day ≤ ``atol``, e.g. rounding noise
    in a baseline run), or when it does not halve within the horizon.
    """
    rate = loss / period_days[None, :]
    mid = np.cumsum(period_days) - period_days / 2.0  # days
    M = rate.shape[0]
    out = np.full(M, np.nan)
    for m in range(M):
        r = rate[m]
        if not np.all(np.isfinite(r)) or r.max() <= atol:
            continue
        i = int(np.argmax(r))
        half = r[i] / 2.0
        after = np.flatnonzero(r[i + 1 :] <= half)
        if after.size == 0:
            continue
        j = i + 1 + int(after[0])
        # linear interpolation between periods j-1 and j
        r0, r1 = r[j - 1], r[j]
        frac = (r0 - half) / (r0 - r1) if r0 != r1 else 0.0
        t = mid[j - 1] + frac * (mid[j] - mid[j - 1])
        out[m] = (t - mid[i]) / DAYS_PER_MONTH
    return out


def who_pays(
    sums: dict[str, np.ndarray], network, params: dict[str, np.ndarray], period_days: np.ndarray
) -> dict[str, np.ndarray]:
    """Who pays, per member and period: trader groups, Pakistan, leverage.

    ``sums`` are a run's period sums (:meth:`RunRecord.sums`, each (M, P, ...)), ``network``
    the static network, ``params`` the members' parameter arrays and ``period_days`` (P,) the
    days simulated in each period. Keys: ``trader_cost`` (M, P, G, component),
    ``trader_baseline_margin``, ``trader_capital_locked``, ``trader_pressure``,
    ``trader_pressure_accumulated``, ``protest_risk`` (M, P, G), ``pakistan_cost`` (M, P,
    pakistan_component), ``pakistan_fiscal_net_cost``, ``pakistan_value_added_lost``,
    ``afghan_value_added_lost``, ``treasury_loss``, the fiscal ``coercion_exchange_ratio``
    and the ``value_added_exchange_ratio`` (each also ``_cumulative``) (M, P), and
    ``leverage_half_life_months`` (M,).
    """
    res = trader_ledger(sums, network.groups, network.incidence, network.w0, period_days, params)
    pk = pakistan_ledger(
        sums,
        network.pak_export,
        network.pak_transit,
        network.pak_route,
        network.freight,
        network.pak_levy,
        params["pakistan_export_value_added_share"],
        params["pakistan_transport_value_added_share"],
    )
    fiscal = pakistan_fiscal_net_cost(pk)
    pk_va = pakistan_value_added_lost(pk)
    loss = (sums["baseline_customs_revenue"] - sums["customs_revenue"]).sum(axis=(2, 3))
    share = loss_shares(sums["baseline_trade_value"], sums["trade_value"], network.w0)
    lost_ck = share * sums["trade_lost_value"].sum(axis=2)[:, :, None, :]
    af_va = afghan_value_added_lost(
        lost_ck, network.margin, network.freight_ck, params["trucking_gross_margin"]
    )
    tol = 1e-9 * float((network.e0 * network.rate).sum())
    res.update(
        {
            "pakistan_cost": pk,
            "pakistan_fiscal_net_cost": fiscal,
            "pakistan_value_added_lost": pk_va,
            "afghan_value_added_lost": af_va,
            "treasury_loss": loss,
            "coercion_exchange_ratio": exchange_ratio(loss, fiscal, cumulative=False, atol=tol),
            "coercion_exchange_ratio_cumulative": exchange_ratio(
                loss, fiscal, cumulative=True, atol=tol
            ),
            "value_added_exchange_ratio": exchange_ratio(af_va, pk_va, cumulative=False, atol=tol),
            "value_added_exchange_ratio_cumulative": exchange_ratio(
                af_va, pk_va, cumulative=True, atol=tol
            ),
            "leverage_half_life_months": leverage_half_life(loss, period_days, atol=tol),
        }
    )
    return res
