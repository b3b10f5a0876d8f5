"""The static network: ids, incidence, nests, baseline flows, capacity, and the cell layout.

Built once from validated :class:`~econ.spec.Inputs` by :meth:`Network.from_inputs`; nothing
in it depends on a scenario or on a member's parameters, and its arrays are read-only.
Symbols follow docs/model.md ("Symbols"): ``v0`` baseline flow (USD/day) by route ×
commodity, ``s0`` its route share, ``e0`` baseline value by crossing × commodity, ``g0`` the
baseline generalized cost, ``incidence`` the route → crossing matrix.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .. import equations as eq
from ..errors import InputError, input_error
from ..spec.inputs import Inputs
from .ledger import GroupMap, build_group_map

log = logging.getLogger(__name__)

#: the route kinds the selectors know
KINDS = ("bilateral", "transit")


#: the lines of Pakistan's fiscal ledger a levy can belong to (pakistan_fiscal.csv ``levy``)
LEVIES = ("customs", "provincial_cess")


def pakistan_levies(fiscal: pd.DataFrame, routes: pd.DataFrame, com: pd.DataFrame) -> np.ndarray:
    """Pakistan's levy per USD of goods value on each route and commodity, (2, R, K): the
    ``customs`` and ``provincial_cess`` lines of ``pakistan_fiscal.csv``, each row charged
    on the routes through its crossings, of its kinds, for commodities of its directions
    (rates of overlapping rows add up)."""
    out = np.zeros((len(LEVIES), len(routes), len(com)))
    for _, r in fiscal.iterrows():
        items = {
            c: {s.strip() for s in str(r[c]).split(";") if s.strip()}
            for c in ("crossings", "kinds", "directions")
        }
        rmask = (
            routes["crossing"].isin(items["crossings"]).to_numpy()
            & routes["kind"].isin(items["kinds"]).to_numpy()
        )
        kmask = com["direction"].isin(items["directions"]).to_numpy()
        out[LEVIES.index(r["levy"])] += float(r["rate"]) * (rmask[:, None] & kmask[None, :])
    return out


def route_origin_names(routes: pd.DataFrame) -> list[str]:
    """Origin of the goods on each route: the corridor country for bilateral routes (its own
    goods), ``"world"`` for transit routes (third-country goods through the corridor)."""
    return [c if k == "bilateral" else "world" for c, k in zip(routes["corridor"], routes["kind"])]


class UnknownId(ValueError):
    """A selector names an id the network does not have (``field``, ``value``, ``known``;
    ``names`` gives the display name of known ids that have one)."""

    def __init__(
        self, field: str, value: str, known: list[str], names: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"unknown id {value!r} in {field!r}")
        self.field, self.value, self.known = field, value, known
        self.names = names or {}

    def as_input_error(self, file: str, what: str) -> InputError:
        """The one-line input error for ``what`` (e.g. "measure 2 (tariff)") in ``file``:
        the known ids, each with its name beside it."""
        known = [
            f"{k} ({self.names[k]})" if self.names.get(k) and self.names[k] != k else k
            for k in self.known
        ]
        also = (
            " (a crossing's name from crossings.csv or a part of it, e.g. 'chaman', also works)"
            if self.field == "crossings"
            else ""
        )
        return input_error(
            file,
            f"{what}: unknown id in '{self.field}'",
            found=self.value,
            expected=f"one of {', '.join(known)}{also}",
            fix=f"correct the id in {self.field}",
        )


def _key(text: str) -> str:
    """A name as a lookup key: lower case, spaces, underscores and dashes as one hyphen."""
    import re

    return re.sub(r"[\s_\-–—]+", "-", text.strip().lower()).strip("-")


def crossing_aliases(crossings: pd.DataFrame) -> dict[str, str]:
    """Every name a crossing may be called by in a selector, as a lookup key → its id.

    The id itself and its name in ``crossings.csv`` (e.g. "Spin Boldak – Chaman (Friendship
    Gate)"), and each part of the name split at dashes, "+" and brackets ("Spin Boldak",
    "Chaman", "Friendship Gate"), matched case-insensitively with spaces and hyphens alike
    (:func:`_key`). A part that two crossings share names neither.
    """
    import re

    out: dict[str, str] = {}
    clash: set[str] = set()
    for cid, name in zip(crossings.index, crossings["name"]):
        keys = {_key(cid), _key(str(name))}
        keys |= {_key(p) for p in re.split(r"\s[–—-]\s|[()+]", str(name)) if p.strip()}
        for k in keys - {""}:
            if k in out and out[k] != cid:
                clash.add(k)
            out[k] = cid
    for k in clash:
        if k not in {_key(c) for c in crossings.index}:
            del out[k]
    return out


def _frozen(a: Any) -> Any:
    if isinstance(a, np.ndarray):
        a.flags.writeable = False
    return a


class GroupSum:
    """Sum the last axis over groups: ``out[..., j] = Σ x[..., i] over keys[i] == j``.

    ``np.add.reduceat`` over contiguous runs of equal keys (after a gather if the keys are
    not sorted); groups without members give 0. A matmul with a 0/1 incidence matrix is
    a little faster on wide arrays, but BLAS sums a row in an order that depends on the
    row's position in the array, and a member's results must not depend on the chunking.
    """

    def __init__(self, keys: np.ndarray, n: int) -> None:
        keys = np.asarray(keys)
        self.perm = None if np.all(keys[:-1] <= keys[1:]) else np.argsort(keys, kind="stable")
        sk = keys if self.perm is None else keys[self.perm]
        self.starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
        self.groups = sk[self.starts]
        self.n = n
        self.size = len(keys)

    def __call__(self, x: np.ndarray, scratch: np.ndarray | None = None) -> np.ndarray:
        """Group sums of ``x``; a ``scratch`` array shaped like ``x`` receives the gather."""
        if self.perm is not None:
            x = np.take(
                x,
                self.perm,
                axis=-1,
                out=scratch if scratch is not None and scratch.shape == x.shape else None,
            )
        return self._fill(np.add.reduceat(x, self.starts, axis=-1))

    def max(self, x: np.ndarray) -> np.ndarray:
        """Group maxima of ``x`` (0 for groups without members)."""
        if self.perm is not None:
            x = np.take(x, self.perm, axis=-1)
        return self._fill(np.maximum.reduceat(x, self.starts, axis=-1))

    def _fill(self, s: np.ndarray) -> np.ndarray:
        if len(self.groups) == self.n:
            return s
        out = np.zeros(s.shape[:-1] + (self.n,))
        out[..., self.groups] = s
        return out


def expand(
    x: np.ndarray, flat: np.ndarray, shape: tuple[int, int], fill: float = 0.0
) -> np.ndarray:
    """Scatter the last axis of ``x`` to positions ``flat`` of a new (..., *shape) array
    (float64), ``fill`` elsewhere.

    Done as a gather (``np.take`` of ``x`` with one ``fill`` column appended, through the
    inverse of ``flat``): the same values as ``full[..., flat] = x``, three times faster on a
    chunk's (members, periods, cells) sums."""
    n = x.shape[-1]
    inverse = np.full(shape[0] * shape[1], n)  # positions without a cell read the fill column
    inverse[flat] = np.arange(n)
    ext = np.empty(x.shape[:-1] + (n + 1,))
    ext[..., :n] = x
    ext[..., n] = fill
    return np.take(ext, inverse, axis=-1).reshape(x.shape[:-1] + shape)


@dataclass(frozen=True)
class CellLayout:
    """The cells the daily loop works on: route × commodity cells with baseline flow (F of
    them) and the crossing × commodity pairs they feed (G).

    A cell with v0 = 0 carries nothing, ever: the target flow is v0 · (factors), so the box
    deviations, orders, arrivals and re-routed cargo of the cell stay 0 (re-routed cargo goes
    to routes in proportion to their target flow, and anticipation only to cells a measure
    matches, which have flow). Likewise a pair without such a cell keeps no queue, clears
    nothing and keeps compliance 1 (241 of 330 cells and 165 of 210 pairs in the shipped
    inputs). Cells are laid out so that summing them to pairs takes only slices: pairs are
    sorted by their number of routes (most first), then commodity and crossing; the first G
    cells are the first route of every pair, the next ones the second route of pairs 0, 1,
    ... (those with two or more), and so on (:meth:`cells_to_pairs`).
    """

    cell_route: np.ndarray  # (F,) route of each cell
    cell_commodity: np.ndarray  # (F,)
    cell_crossing: np.ndarray  # (F,)
    cell_pair: np.ndarray  # (F,) pair of each cell
    cell_nest: np.ndarray  # (F,) commodity × route-nest of each cell
    cell_origin: np.ndarray  # (F,) commodity × origin of each cell
    cell_npair: np.ndarray  # (F,) nest × crossing ("nest pair") of each cell
    nest_origin: np.ndarray  # (N,) origin (commodity × origin) of each nest
    origin_commodity: np.ndarray  # (O,) commodity of each origin group
    npair_nest: np.ndarray  # (NP,) nest of each nest pair
    npair_peers: np.ndarray  # (P, NP) the other nest pairs of each one's nest; NP where none
    pair_commodity: np.ndarray  # (G,)
    pair_crossing: np.ndarray  # (G,)
    nest_commodity: np.ndarray  # (N,) commodity of each nest of cells
    pair_levels: tuple[tuple[int, int], ...]  # (first cell, number of pairs) of each level
    shape_rk: tuple[int, int]
    shape_ck: tuple[int, int]
    cells_to_commodity: GroupSum = field(repr=False)
    pairs_to_commodity: GroupSum = field(repr=False)
    pairs_to_crossing: GroupSum = field(repr=False)
    cells_to_nest: GroupSum = field(repr=False)
    nests_to_commodity: GroupSum = field(repr=False)
    nests_to_origin: GroupSum = field(repr=False)
    origins_to_commodity: GroupSum = field(repr=False)
    cells_to_origin: GroupSum = field(repr=False)
    cells_to_npair: GroupSum = field(repr=False)
    npairs_to_nest: GroupSum = field(repr=False)

    @property
    def n_nests(self) -> int:
        return len(self.nest_origin)

    @property
    def n_origins(self) -> int:
        return len(self.origin_commodity)

    # the tree of the demand system (cell → nest → origin → commodity), as
    # equations.calc_nested_shares reads it
    def nest_sum(self, x: np.ndarray) -> np.ndarray:
        return self.cells_to_nest(x)

    def nest_max(self, x: np.ndarray) -> np.ndarray:
        return self.cells_to_nest.max(x)

    def others_in_nest(self, x: np.ndarray) -> np.ndarray:
        """Σ of ``x`` (..., NP) over the *other* nest pairs of each nest pair's nest, added one
        by one in index order. Not the nest's total minus one's own: where one's own dominates,
        that difference keeps only the digits the total has left (a 1-ulp change of the total
        moved re-routed cargo by 1e-9), while a sum of non-negative terms is exact to rounding.
        """
        padded = np.concatenate([x, np.zeros(x.shape[:-1] + (1,))], axis=-1)
        out = np.zeros_like(x)
        for peers in self.npair_peers:
            out = out + padded[..., peers]
        return out

    def origin_sum(self, x: np.ndarray) -> np.ndarray:
        return self.nests_to_origin(x)

    def origin_max(self, x: np.ndarray) -> np.ndarray:
        return self.nests_to_origin.max(x)

    def commodity_sum(self, x: np.ndarray) -> np.ndarray:
        return self.origins_to_commodity(x)

    def nest_to_cells(self, x: np.ndarray) -> np.ndarray:
        return np.take(x, self.cell_nest, axis=-1)

    def origin_to_nests(self, x: np.ndarray) -> np.ndarray:
        return np.take(x, self.nest_origin, axis=-1)

    def commodity_to_origins(self, x: np.ndarray) -> np.ndarray:
        return np.take(x, self.origin_commodity, axis=-1)

    @property
    def n_cells(self) -> int:
        return len(self.cell_route)

    @property
    def n_pairs(self) -> int:
        return len(self.pair_commodity)

    @property
    def cell_flat(self) -> np.ndarray:
        """Each cell's index in a flattened (R, K) array."""
        return self.cell_route * self.shape_rk[1] + self.cell_commodity

    @property
    def pair_flat(self) -> np.ndarray:
        """Each pair's index in a flattened (C, K) array."""
        return self.pair_crossing * self.shape_ck[1] + self.pair_commodity

    def on_cells(self, a: np.ndarray) -> np.ndarray:
        """An array broadcasting against (R, K) read at the cells: (F,)."""
        return np.broadcast_to(a, self.shape_rk)[self.cell_route, self.cell_commodity]

    def on_pairs(self, a: np.ndarray) -> np.ndarray:
        """An array broadcasting against (C, K) read at the pairs: (G,)."""
        return np.broadcast_to(a, self.shape_ck)[self.pair_crossing, self.pair_commodity]

    def cells_to_pairs(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Sum cells (..., F) to their crossing × commodity pairs (..., G), route by route."""
        (_, n_pairs), *more = self.pair_levels
        if out is None:
            out = x[..., :n_pairs].copy()
        else:
            np.copyto(out, x[..., :n_pairs])
        for start, n in more:
            out[..., :n] += x[..., start : start + n]
        return out

    def expand_cells(self, x: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """Cells (..., F) to the full (..., R, K), ``fill`` where there is no baseline flow."""
        return expand(x, self.cell_flat, self.shape_rk, fill)

    def expand_pairs(self, x: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """Pairs (..., G) to the full (..., C, K), ``fill`` where there is no baseline flow."""
        return expand(x, self.pair_flat, self.shape_ck, fill)

    @classmethod
    def build(
        cls,
        v0: np.ndarray,
        route_crossing: np.ndarray,
        route_nest: np.ndarray,
        n_crossings: int,
        route_origin: np.ndarray | None = None,
    ) -> CellLayout:
        """The layout of the cells with ``v0 != 0`` (see the class docstring)."""
        n_routes, n_commodities = v0.shape
        routes_of: dict[tuple[int, int], list[int]] = {}
        for r, k in zip(*np.nonzero(v0 != 0)):  # routes in order
            routes_of.setdefault((int(k), int(route_crossing[r])), []).append(int(r))
        pairs = sorted(routes_of, key=lambda kc: (-len(routes_of[kc]), kc))
        cell_route: list[int] = []
        cell_pair: list[int] = []
        levels = []
        for level in range(max(map(len, routes_of.values()), default=0)):
            n = sum(len(routes_of[kc]) > level for kc in pairs)
            levels.append((len(cell_route), n))
            cell_route += [routes_of[kc][level] for kc in pairs[:n]]
            cell_pair += range(n)
        pair_commodity = np.array([k for k, _ in pairs], dtype=np.int64)
        pair_crossing = np.array([c for _, c in pairs], dtype=np.int64)
        cell_pair_a = np.array(cell_pair, dtype=np.int64)
        cell_route_a = np.array(cell_route, dtype=np.int64)
        cell_commodity = pair_commodity[cell_pair_a]
        # nests (commodity × corridor × kind) and origins (commodity × origin of the goods) of
        # the cells, for the nested demand system; nest pairs (nest × crossing) for re-routing
        # cargo between crossings of its corridor
        route_origin = np.zeros_like(route_nest) if route_origin is None else route_origin
        n_route_nests = int(route_nest.max()) + 1
        n_route_origins = int(route_origin.max()) + 1
        nest_keys, cell_nest = np.unique(
            cell_commodity * n_route_nests + route_nest[cell_route_a], return_inverse=True
        )
        nest_commodity = nest_keys // n_route_nests
        origin_of_nest = np.zeros(n_route_nests, np.int64)
        origin_of_nest[route_nest] = route_origin
        origin_keys, nest_origin = np.unique(
            nest_commodity * n_route_origins + origin_of_nest[nest_keys % n_route_nests],
            return_inverse=True,
        )
        origin_commodity = origin_keys // n_route_origins
        cell_origin = nest_origin[cell_nest]
        npair_keys, cell_npair = np.unique(
            cell_nest * n_crossings + route_crossing[cell_route_a], return_inverse=True
        )
        npair_nest = npair_keys // n_crossings
        return cls(
            npair_peers=_peers(npair_nest),
            cell_route=cell_route_a,
            cell_commodity=cell_commodity,
            cell_crossing=route_crossing[cell_route_a],
            cell_pair=cell_pair_a,
            cell_nest=cell_nest,
            cell_origin=cell_origin,
            cell_npair=cell_npair,
            nest_origin=nest_origin,
            origin_commodity=origin_commodity,
            npair_nest=npair_nest,
            pair_commodity=pair_commodity,
            pair_crossing=pair_crossing,
            nest_commodity=nest_commodity,
            pair_levels=tuple(levels),
            shape_rk=(n_routes, n_commodities),
            shape_ck=(n_crossings, n_commodities),
            cells_to_commodity=GroupSum(cell_commodity, n_commodities),
            pairs_to_commodity=GroupSum(pair_commodity, n_commodities),
            pairs_to_crossing=GroupSum(pair_crossing, n_crossings),
            cells_to_nest=GroupSum(cell_nest, len(nest_keys)),
            nests_to_commodity=GroupSum(nest_commodity, n_commodities),
            nests_to_origin=GroupSum(nest_origin, len(origin_keys)),
            origins_to_commodity=GroupSum(origin_commodity, n_commodities),
            cells_to_origin=GroupSum(cell_origin, len(origin_keys)),
            cells_to_npair=GroupSum(cell_npair, len(npair_keys)),
            npairs_to_nest=GroupSum(npair_nest, len(nest_keys)),
        )


def _peers(group: np.ndarray) -> np.ndarray:
    """(P, n) index of the other members of each member's group, in index order, padded with
    ``n`` (CellLayout.npair_peers)."""
    n = len(group)
    rows = [[j for j in np.flatnonzero(group == group[i]) if j != i] for i in range(n)]
    width = max([len(r) for r in rows] + [1])
    out = np.full((width, n), n, dtype=np.int64)
    for i, r in enumerate(rows):
        out[: len(r), i] = r
    return out


@dataclass(frozen=True)
class Network:
    """Crossings, routes and commodities with their baseline flows, costs and capacities.

    Shapes: R routes, C crossings, K commodities; (R, 1) for per-route numbers that apply to
    every commodity. Flows are USD per day of the base year (``v0``); ``e0`` is their sum by
    crossing; ``s0`` each route's share of its commodity; ``w0`` each crossing's share.
    """

    inputs: Inputs = field(repr=False)
    crossing_ids: tuple[str, ...]
    route_ids: tuple[str, ...]
    commodity_ids: tuple[str, ...]
    route_crossing: np.ndarray  # (R,) crossing index of each route
    incidence: np.ndarray  # (R, C) 1 where the route enters by the crossing
    v0: np.ndarray  # (R, K) USD/day, calibrated baseline flow
    s0: np.ndarray  # (R, K) route share of the commodity's baseline flow
    e0: np.ndarray  # (C, K) USD/day, baseline value by crossing
    w0: np.ndarray  # (C, K) crossing share of the commodity's baseline value
    freight: np.ndarray  # (R, 1) freight and handling, share of value
    transit_days: np.ndarray  # (R, 1) days from gateway to border
    border_days: np.ndarray  # (C,) normal days at the border
    route_days0: np.ndarray  # (R, 1) baseline days: transit + border
    pending_release: np.ndarray  # (R, 1) share of re-routed cargo reaching its crossing per day
    g0: np.ndarray  # (R, K) baseline generalized cost per unit value
    logistics_cost0: np.ndarray  # (K,) flow-weighted baseline logistics cost (g0 − 1)
    premium: np.ndarray  # (R, K) route's logistics cost over the commodity's mix
    rate: np.ndarray  # (K,) collected customs rate τ
    value_per_truck: np.ndarray  # (K,) USD per truck
    shelf_life_days: np.ndarray  # (K,)
    delay_cost: np.ndarray  # (K,) h: share of value per day of delay
    margin: np.ndarray  # (K,) traders' gross margin, share of value
    is_import: np.ndarray  # (K,) bool
    capacity: np.ndarray  # (C,) trucks/day a crossing clears normally
    baseline_load: np.ndarray  # (C,) trucks/day arriving in the baseline
    route_nest: np.ndarray  # (R,) nest (corridor × kind) of each route
    route_origin: np.ndarray  # (R,) origin of the goods on each route (index into origin_ids)
    origin_ids: tuple[str, ...]  # origins: corridor countries' own goods, and "world"
    pak_route: np.ndarray  # (R, 1) 1 on routes through Pakistan
    pak_transit: np.ndarray  # (R, 1) 1 on Pakistani transit routes
    pak_export: np.ndarray  # (R, K) 1 on Afghan imports of Pakistani goods
    pak_levy: np.ndarray  # (2, R, K) Pakistan's levies per USD: customs, provincial cess
    freight_ck: np.ndarray  # (C, K) baseline freight bill per USD of goods value
    groups: GroupMap = field(repr=False)
    cells: CellLayout = field(repr=False)
    cell: dict[str, np.ndarray] = field(repr=False)  # static inputs on the cells, (F,)
    pair: dict[str, np.ndarray] = field(repr=False)  # static inputs on the pairs, (G,)

    @property
    def n_routes(self) -> int:
        return len(self.route_ids)

    @property
    def n_crossings(self) -> int:
        return len(self.crossing_ids)

    @property
    def n_commodities(self) -> int:
        return len(self.commodity_ids)

    def to_crossing(self, x: np.ndarray) -> np.ndarray:
        """Sum route arrays (..., R, K) to their crossings (..., C, K)."""
        return np.ascontiguousarray(self.incidence.T) @ x

    def crossing_id(self, name: str) -> str:
        """The crossing id a selector's name means: the id, or a name of
        :func:`crossing_aliases` (``"chaman"`` → ``"spin-boldak"``); unknown names are
        returned as given (and refused by :meth:`select`)."""
        if name in self.crossing_ids:
            return name
        return crossing_aliases(self.inputs.crossings).get(_key(str(name)), name)

    def corridors(self) -> list[str]:
        """Corridor ids a selector may name (route corridors and crossing countries)."""
        inp = self.inputs
        return sorted(set(inp.routes["corridor"]) | set(inp.crossings["country"]))

    def select(
        self,
        *,
        crossings=None,
        corridors=None,
        routes=None,
        kinds=None,
        commodities=None,
        direction=None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The one selector → mask resolver: (route mask (R,), commodity mask (K,)).

        Each selector is a list of ids (``None`` = all); the route selectors intersect, as do
        ``commodities`` and ``direction`` (``"import"`` or ``"export"``). An id the network
        does not know raises :class:`UnknownId`.
        """
        routes_df = self.inputs.routes
        rmask = np.ones(self.n_routes, bool)
        if crossings is not None:
            crossings = [self.crossing_id(c) for c in crossings]
        for name, sel, known, col in (
            ("crossings", crossings, list(self.crossing_ids), routes_df["crossing"]),
            ("corridors", corridors, self.corridors(), routes_df["corridor"]),
            (
                "routes",
                routes,
                list(self.route_ids),
                pd.Series(list(self.route_ids), index=routes_df.index),
            ),
            ("kinds", kinds, list(KINDS), routes_df["kind"]),
        ):
            if sel is None:
                continue
            for s in sel:
                if s not in known:
                    names = (
                        dict(zip(self.crossing_ids, self.inputs.crossings["name"]))
                        if name == "crossings"
                        else {}
                    )
                    raise UnknownId(name, s, known, names)
            rmask &= col.isin(list(sel)).to_numpy()
        kmask = np.ones(self.n_commodities, bool)
        if commodities is not None:
            for s in commodities:
                if s not in self.commodity_ids:
                    names = dict(zip(self.commodity_ids, self.inputs.commodities["name"]))
                    raise UnknownId("commodities", s, list(self.commodity_ids), names)
            kmask &= np.isin(self.commodity_ids, list(commodities))
        if direction is not None:
            kmask &= (self.inputs.commodities["direction"] == direction).to_numpy()
        return rmask, kmask

    @classmethod
    def from_inputs(cls, inputs: Inputs) -> Network:
        """Build the network from validated inputs (docs/model.md §1)."""
        crossing_ids = tuple(inputs.crossings.index)
        route_ids = tuple(inputs.routes.index)
        commodity_ids = tuple(inputs.commodities.index)
        n_crossings, n_routes = len(crossing_ids), len(route_ids)
        cidx = {c: i for i, c in enumerate(crossing_ids)}
        routes, com, cr = inputs.routes, inputs.commodities, inputs.crossings
        route_crossing = np.array([cidx[c] for c in routes["crossing"]])
        incidence = np.zeros((n_routes, n_crossings))
        incidence[np.arange(n_routes), route_crossing] = 1.0
        annual = (
            inputs.flows.pivot_table(
                index="route", columns="commodity", values="value_usd", aggfunc="sum"
            )
            .reindex(index=list(route_ids), columns=list(commodity_ids))
            .fillna(0.0)
        )
        v0 = annual.to_numpy(float) / 365.0  # USD/day, calibrated
        tot = v0.sum(axis=0, keepdims=True)
        s0 = np.divide(v0, tot, out=np.zeros_like(v0), where=tot > 0)
        freight = routes["freight_share"].to_numpy(float)[:, None]
        transit_days = routes["transit_days"].to_numpy(float)[:, None]
        border_days = cr["border_hours"].to_numpy(float) / 24.0
        value_per_truck = com["value_per_truck_usd"].to_numpy(float)
        delay_cost = com["delay_cost_per_day"].to_numpy(float)
        route_days0 = transit_days + border_days[route_crossing][:, None]
        g0 = eq.calc_generalized_cost(freight, delay_cost, route_days0, 0.0, 0.0)
        # baseline flow-weighted logistics cost (freight + time) per unit value, by commodity
        lc0 = g0 - 1.0
        vk = v0.sum(axis=0)
        logistics_cost0 = np.divide(
            (v0 * lc0).sum(axis=0), vk, out=np.zeros(len(commodity_ids)), where=vk > 0
        )
        premium = lc0 - logistics_cost0
        e0 = np.einsum("rc,rk->ck", incidence, v0)
        tot_k = e0.sum(axis=0, keepdims=True)
        w0 = np.divide(e0, tot_k, out=np.zeros_like(e0), where=tot_k > 0)
        # capacity: the base year's load (loaded trucks a day, both directions) over the
        # crossing's normal utilisation in that year (base_years/<label>/utilization.csv), so
        # that a backlog of N days of traffic clears in N · u / (1 − u) days whatever the value
        # per truck (docs/model.md §1)
        load = (e0 / value_per_truck).sum(axis=1)
        utilization = cr["utilization"].to_numpy(float)
        capacity = np.where(load > 0, load / utilization, 1.0)
        is_import = (com["direction"] == "import").to_numpy()
        margin = com["gross_margin"].to_numpy(float)
        fbill = np.einsum("rc,rk->ck", incidence, v0 * freight)
        freight_ck = np.divide(fbill, e0, out=np.zeros_like(fbill), where=e0 > 0)
        groups = build_group_map(
            inputs.trader_groups,
            list(crossing_ids),
            list(commodity_ids),
            is_import,
            margin,
            freight_ck,
        )
        # nests of route choice: routes of the same corridor and kind (docs/model.md §3)
        keys = list(zip(routes["corridor"], routes["kind"]))
        nest_of = {kk: i for i, kk in enumerate(dict.fromkeys(keys))}
        route_nest = np.array([nest_of[kk] for kk in keys])
        # origin of the goods: the corridor country's own goods on bilateral routes,
        # third-country goods ("world") on transit routes (docs/model.md §3)
        origin_names = route_origin_names(routes)
        origin_of = {o: i for i, o in enumerate(dict.fromkeys(origin_names))}
        route_origin = np.array([origin_of[o] for o in origin_names])
        pak = (routes["corridor"] == "pakistan").to_numpy()
        pak_transit = (pak & (routes["kind"] == "transit").to_numpy())[:, None].astype(float)
        pak_export = (
            (pak & (routes["kind"] == "bilateral").to_numpy())[:, None] & is_import[None, :]
        ).astype(float)
        shelf = com["shelf_life_days"].to_numpy(float)
        rate = com["effective_rate"].to_numpy(float)
        pending_release = 1.0 / np.maximum(1.0, transit_days)  # (R, 1) per day
        cells = CellLayout.build(v0, route_crossing, route_nest, n_crossings, route_origin)
        on_c = cells.on_cells
        cell = {
            "v0": on_c(v0),
            "s0": on_c(s0),
            "g0": on_c(g0),
            "freight": on_c(freight),
            "delay_cost": on_c(delay_cost),
            "route_days0": on_c(route_days0),
            "pending_release": on_c(pending_release),
            "premium": on_c(premium),
            "premium_pos": on_c(np.maximum(premium, 0.0)),
            "one_plus_freight": 1.0 + on_c(freight),
        }
        pk = cells.pair_commodity
        pair = {
            "e0": cells.on_pairs(e0),
            "w0": cells.on_pairs(w0),
            "vpt": value_per_truck[pk],
            "rate": rate[pk],
            # share of the queue spoiling in one day
            "spoiled_share": eq.calc_spoiled_value(1.0, shelf[pk]),
            "utilization": utilization[cells.pair_crossing],
        }
        for d in (cell, pair):
            for a in d.values():
                _frozen(a)
        arrays = dict(
            route_crossing=route_crossing,
            incidence=incidence,
            v0=v0,
            s0=s0,
            e0=e0,
            w0=w0,
            freight=freight,
            transit_days=transit_days,
            border_days=border_days,
            route_days0=route_days0,
            pending_release=pending_release,
            g0=g0,
            logistics_cost0=logistics_cost0,
            premium=premium,
            rate=rate,
            value_per_truck=value_per_truck,
            shelf_life_days=shelf,
            delay_cost=delay_cost,
            margin=margin,
            is_import=is_import,
            capacity=capacity,
            baseline_load=load,
            route_nest=route_nest,
            route_origin=route_origin,
            origin_ids=tuple(origin_of),
            pak_route=pak[:, None].astype(float),
            pak_transit=pak_transit,
            pak_export=pak_export,
            pak_levy=pakistan_levies(inputs.pakistan_fiscal, routes, com),
            freight_ck=freight_ck,
        )
        return cls(
            inputs=inputs,
            crossing_ids=crossing_ids,
            route_ids=route_ids,
            commodity_ids=commodity_ids,
            groups=groups,
            cells=cells,
            cell=cell,
            pair=pair,
            **{k: _frozen(v) for k, v in arrays.items()},
        )
