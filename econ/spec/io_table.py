"""The input-output table of the economy behind the border (built by
:func:`econ.io.io_table.load_io_table`; docs/economy.md): validated arrays, no file I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class IOTable:
    """The FY1401 input-output table and what the economy stage needs from it.

    Values are USD per year at base-year prices (the table's USD million × 1e6). ``J`` sectors,
    ``Kimp`` import groups (the IO table's import rows, ids of ``commodities.csv``), ``Kexp``
    export groups, ``I`` basket items.

    Attributes
    ----------
    sectors, import_ids, export_ids, items
        Labels, in the order of every array.
    sector_names
        Long names of the sectors.
    output
        (J,) x, gross output (USD/year), from pymrio's ``calc_x``.
    z, y
        (J, J) intermediate flows Z and (J,) total final demand for domestic output (USD/year).
    a, leontief
        (J, J) technical coefficients A = Z·diag(x)⁻¹ and the Leontief inverse L = (I − A)⁻¹, from
        pymrio's ``calc_A`` and ``calc_L``.
    import_use
        (Kimp, J) imports used by each sector (USD/year), from ``imports_use.csv``.
    import_total
        (Kimp,) imports of each group by all users, sectors and final demand (USD/year).
    criticality
        (Kimp, J) how much of an import shortfall reaches the sector's output (0, 0.5 or 1).
    export_split
        (Kexp, J) share of each export group's value that is each sector's output.
    tax_rate
        (J,) effective domestic revenue per USD of output (BRT, income taxes, royalties).
    employment
        (J,) persons employed; ``jobs_per_usd`` (J,) persons per USD of annual output.
    item_import, item_import_share, item_elasticity, item_weight
        Per basket item: the import group it comes in (index into ``import_ids``), the import
        share of its supply, its short-run own-price demand elasticity (< 0), its CPI weight.
    hashes
        Short hashes of the files read.
    """

    sectors: tuple[str, ...]
    sector_names: tuple[str, ...]
    import_ids: tuple[str, ...]
    export_ids: tuple[str, ...]
    items: tuple[str, ...]
    output: np.ndarray
    z: np.ndarray
    y: np.ndarray
    a: np.ndarray
    leontief: np.ndarray
    import_use: np.ndarray
    import_total: np.ndarray
    criticality: np.ndarray
    export_split: np.ndarray
    tax_rate: np.ndarray
    employment: np.ndarray
    item_import: np.ndarray
    item_import_share: np.ndarray
    item_elasticity: np.ndarray
    item_weight: np.ndarray
    hashes: dict[str, str] = field(default_factory=dict)

    @property
    def jobs_per_usd(self) -> np.ndarray:
        return self.employment / self.output

    @property
    def n_sectors(self) -> int:
        return len(self.sectors)
