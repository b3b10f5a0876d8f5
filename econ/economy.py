"""Equations of the input-output layer (docs/economy.md): pure numpy, no I/O.

What a shortfall of imported goods does to Afghan output, domestic revenue, jobs, staple
prices and freight costs, one day at a time, after adaptive regional input-output models
(ARIO: Hallegatte 2008; BoARIO, its Python implementation, ``calc_production``):

    imports arrive → national stocks (days of use) → supply ratio r[k] (rationing below ψ·target)
    → each sector's import constraint ρ[j] (critical inputs, Leontief) → output loss ℓ[j] through
    A (forward: rationed domestic inputs; backward: lower intermediate and export demand)
    → domestic revenue, jobs; staple prices from landed cost and scarcity; fuel price → freight.

Symbols (docs/economy.md, "Symbols"): ``M`` members, ``K`` import commodity groups, ``J``
sectors, ``I`` basket items. Arrays put the member axis first. Flows are USD/day, stocks USD,
ratios 1. The IO system itself (``A = Z·diag(x)⁻¹``, ``L = (I − A)⁻¹``) is computed with pymrio
when the table is loaded (:mod:`econ.io.io_table`); these functions take it as arrays.
"""

from __future__ import annotations

import numpy as np

#: relative tolerance below which a deviation from the baseline is floating-point noise of the
#: engine's sums (measured: 6e-16), so that no shock gives exactly zero change
NOISE = 1e-9
#: the output loss's fixed point stops when no sector's loss moves by more than this share of the
#: largest sector's baseline output (USD/day, at least 1 USD), or after this many iterations
OUTPUT_LOSS_TOL = 1e-10
OUTPUT_LOSS_MAX_ITER = 500


def calc_deviation(value: np.ndarray, baseline: np.ndarray, tol: float = NOISE) -> np.ndarray:
    """d = value − baseline, set to exactly 0 where |d| ≤ tol·|baseline| (USD/day).

    The engine's daily sums reproduce the baseline to ~1e-16 relative, not bit for bit; the
    economy works on deviations so that a run without a shock gives exactly zero change.
    """
    d = value - baseline
    return np.where(np.abs(d) <= tol * np.abs(baseline), 0.0, d)


def calc_stock_target(days: np.ndarray, use0: np.ndarray) -> np.ndarray:
    """S* = n·u0: target stock of an imported good, n days of its baseline use (USD).

    ``days`` (M, K) days of use held (``import_inventory_days``), ``use0`` (M, K) USD/day.
    """
    return days * use0


def calc_supply_ratio(
    gap: np.ndarray, arrivals_gap: np.ndarray, target: np.ndarray, use0: np.ndarray, psi
) -> np.ndarray:
    """r = min(1, (S* + gap + u0 + Δa) / max(ψ·S*, u0)): the share of demand for an imported
    good that users can meet today (1).

    The ARIO stock constraint (BoARIO ``calc_production``: production scales with
    stock ÷ (ψ · target) once stocks fall below ψ times their target), on the stock available
    today: the target ``S*`` plus its deviation ``gap`` (USD, ≤ 0 while drawn down) plus
    today's arrivals ``u0 + Δa``. With no inventory (``S* = 0``) it is today's arrivals ÷
    baseline use. ``psi`` is ``inventory_rationing_threshold``. Exactly 1 while the stock is
    above the threshold, whatever rounding.
    """
    available = target + gap + use0 + arrivals_gap
    need = np.maximum(psi * target, use0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(need > 0.0, np.maximum(available, 0.0) / np.where(need > 0, need, 1.0), 1.0)
    return np.minimum(r, 1.0)


def calc_stock_gap(gap: np.ndarray, arrivals_gap: np.ndarray, use_gap: np.ndarray) -> np.ndarray:
    """S' − S* = (S − S*) + Δa − Δu: the stock's deviation from its target after the day (USD).

    ``arrivals_gap`` Δa = arrivals − baseline use, ``use_gap`` Δu = use − baseline use (≤ 0
    when rationed or when users produce less). Stocks above the target are kept (cargo
    arriving after a closure refills them first).
    """
    return gap + arrivals_gap - use_gap


def calc_import_constraint(
    supply_ratio: np.ndarray, criticality: np.ndarray, substitution
) -> np.ndarray:
    """ρ[j] = min_k (1 − c[k,j]·(1 − s)·(1 − r[k])): the share of baseline output each sector can
    produce with the imported inputs it gets (1).

    ``supply_ratio`` r (M, K); ``criticality`` c (K, J) in [0, 1] (1: a critical input, strict
    Leontief as in ARIO; 0: the sector does without it, as BoARIO's input-share threshold does
    for minor inputs); ``substitution`` s (M,) the share of a critical shortfall sectors can
    substitute within the month (``input_substitution_share``). Returns (M, J).
    """
    s = np.asarray(substitution, float).reshape(-1, 1, 1)
    cut = criticality[None, :, :] * (1.0 - s) * (1.0 - supply_ratio)[:, :, None]
    return 1.0 - cut.max(axis=1)


def calc_output_loss(
    x0: np.ndarray,
    a: np.ndarray,
    constraint: np.ndarray,
    demand_loss: np.ndarray,
    domestic_criticality: np.ndarray,
    *,
    tol: float = OUTPUT_LOSS_TOL,
    max_iter: int = OUTPUT_LOSS_MAX_ITER,
) -> np.ndarray:
    """Output lost by each sector ℓ (M, J) USD/day, from two fixed points:

        κ = max(x0·(1 − ρ), x0·max_i c_d[i,j]·κ_i/x0_i)     supply: own constraint, rationed inputs
        ℓ = min(x0, max(κ, A·ℓ + Δy))                        and demand lost upstream

    ``x0`` (M, J) baseline output (USD/day), ``a`` (J, J) technical coefficients A, ``constraint``
    ρ (M, J) from :func:`calc_import_constraint`, ``demand_loss`` Δy (M, J) final demand lost
    (USD/day, e.g. exports not sold), ``domestic_criticality`` c_d (J, J) or (M, J, J).

    κ is each sector's lost capacity: its own import constraint, or the share of a material
    domestic input its supplier cannot make (the forward, downstream linkage through A: ARIO's
    rationing of buyers, here in proportion to the supplier's lost capacity, without
    re-allocating what buyers who cut back no longer take). ℓ adds the backward linkage: a
    sector sells no more than its buyers and final users take (with ρ = 1 and c_d = 0, ℓ = L·Δy).
    Both maps are monotone, so ℓ never falls when an import shortfall deepens; both are
    iterated from below (κ over at most J paths, ℓ as a Leontief series). No shock: ℓ = 0 exactly.
    """
    crit = domestic_criticality if domestic_criticality.ndim == 3 else domestic_criticality[None]
    own = x0 * (1.0 - constraint)
    # each member converges on its own (its tolerance, its iterations), so that a member's
    # result does not depend on which other members share its chunk
    scale = tol * np.maximum(np.max(x0, axis=-1, initial=0.0), 1.0)
    cap = own
    for _ in range(x0.shape[-1] + 1):
        share = np.divide(cap, x0, out=np.zeros_like(cap), where=x0 > 0.0)
        new = np.maximum(own, x0 * np.max(crit * share[:, :, None], axis=1))
        if np.array_equal(new, cap):
            break
        cap = new
    loss = np.minimum(x0, np.maximum(cap, 0.0))
    active = np.ones(loss.shape[:-1], dtype=bool)
    for _ in range(max_iter):
        # row by row (not a BLAS matrix product, whose rounding can depend on the number of
        # rows): a member's result must not depend on the other members in its chunk
        upstream = (loss[..., None, :] * a).sum(axis=-1)
        new = np.maximum(np.minimum(x0, np.maximum(cap, upstream + demand_loss)), 0.0)
        step = np.max(np.abs(new - loss), axis=-1, initial=0.0)
        loss = np.where(active[..., None], new, loss)
        active &= step > scale
        if not active.any():
            break
    return loss


def calc_leontief_output_change(leontief: np.ndarray, demand_change: np.ndarray) -> np.ndarray:
    """Δx = L·Δy: the demand-driven Leontief output change (USD), ``leontief`` L (J, J),
    ``demand_change`` (..., J)."""
    return demand_change @ leontief.T


def calc_inoperability(a_star: np.ndarray, perturbation: np.ndarray) -> np.ndarray:
    """q = (I − A*)⁻¹·c*: the inoperability input-output model (Haimes & Jiang 2001; Santos &
    Haimes 2004), with A* = diag(x)⁻¹·A·diag(x) and c* the demand perturbation as a share of
    output. Static and demand-driven; shown for comparison (docs/economy.md), not used in the run.
    """
    n = a_star.shape[0]
    return np.linalg.solve(np.eye(n) - a_star, perturbation.T).T


def calc_landed_cost_change(
    cost_gap: np.ndarray,
    g0: np.ndarray,
    weight: np.ndarray,
    group: np.ndarray,
    n_groups: int,
) -> np.ndarray:
    """ΔL[k] = Σ_f w[f]·(g − g0)[f]/g0[f] / Σ_f w[f]: the change of a commodity's landed cost per
    USD of goods value, weighted by the day's arrivals (1).

    ``cost_gap`` (M, F) g − g0 on route × commodity cells, ``g0`` (F,), ``weight`` (M, F) (the
    day's arrivals, baseline flows where none arrive), ``group`` (F,) the cell's commodity.
    """
    m = cost_gap.shape[0]
    x = weight * cost_gap / g0
    # np.add.at(num.T, group, x.T) in its order: bincount adds each (member, group)'s cells in
    # cell order, from zero (many times faster than np.add.at, the same bits)
    key = (np.asarray(group) + n_groups * np.arange(m)[:, None]).ravel()
    num = np.bincount(key, x.ravel(), minlength=m * n_groups).reshape(m, n_groups)
    den = np.bincount(key, weight.ravel(), minlength=m * n_groups).reshape(m, n_groups)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0.0)


def calc_staple_price_index(
    landed_change: np.ndarray,
    supply_ratio: np.ndarray,
    pass_through,
    import_share: np.ndarray,
    elasticity: np.ndarray,
) -> np.ndarray:
    """π = 1 + θ·ΔL + μ·(1 − r)/|ε|: a staple's retail price relative to the baseline (1).

    Landed-cost pass-through (``landed_change`` ΔL (M, I) of the item's import group, times
    θ = ``staple_cost_pass_through``, the landed cost's share of the retail price) plus scarcity:
    the shortfall of the item's supply (the import share μ (I,) of supply times the import
    shortfall 1 − r (M, I)) divided by the short-run own-price elasticity of demand ``elasticity``
    (M, I), the price rise that makes households buy that much less.
    """
    theta = np.asarray(pass_through, float).reshape(-1, 1)
    scarcity = import_share * (1.0 - supply_ratio) / np.abs(elasticity)
    return 1.0 + theta * landed_change + scarcity


def calc_freight_multiplier(fuel_price_index: np.ndarray, fuel_share) -> np.ndarray:
    """φ = 1 + f_fuel·(π_fuel − 1): freight cost relative to the baseline on every route (1),
    with ``fuel_share`` f_fuel the fuel share of road-freight cost; exactly 1 when the fuel price
    index is exactly 1."""
    return 1.0 + np.asarray(fuel_share, float) * (fuel_price_index - 1.0)


def calc_domestic_revenue_lost(output_loss: np.ndarray, tax_rate: np.ndarray) -> np.ndarray:
    """ΔT = Σ_j ℓ[j]·t[j]: domestic revenue lost (USD), output loss (..., J) times each sector's
    effective domestic revenue per USD of output t (J,)."""
    return (output_loss * tax_rate).sum(axis=-1)  # row by row: independent of the chunk


def calc_employment_loss(output_loss: np.ndarray, x0: np.ndarray, jobs: np.ndarray) -> np.ndarray:
    """E = ℓ/x0·jobs: jobs lost by sector (persons), the output lost as a share of baseline output
    times baseline employment (jobs per USD of output × output lost)."""
    return np.divide(output_loss, x0, out=np.zeros_like(output_loss), where=x0 > 0) * jobs
