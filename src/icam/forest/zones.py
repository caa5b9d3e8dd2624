"""Forest area and loss per zone and period, in true hectares.

One ``np.bincount`` over each zone's forest cells gives the loss in every period at once;
forest area at epoch k is the forest area at the first epoch less the loss up to k (no
regrowth, see :mod:`icam.forest.change`). Cell areas come from
:meth:`icam.landscape.grid.Grid.cell_area_ha` (per-row on a Mercator grid).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

import numpy as np

from icam.forest.classes import area_by_code, forest_state_counts
from icam.landscape import Landscape

ALL_ZONE = "grid"


@dataclass(frozen=True)
class ZoneStats:
    """Per-zone areas (ha). ``loss_ha[zone][p - 1]`` is the loss in period p (epochs[p-1] → epochs[p])."""

    epochs: tuple[int, ...]
    zones: tuple[str, ...]
    zone_area_ha: dict[str, float]
    valid_area_ha: dict[str, float]
    forest_first_ha: dict[str, float]
    loss_ha: dict[str, tuple[float, ...]]

    @property
    def period_labels(self) -> list[str]:
        """'2001' for a one-year period, '2000-2010' for a longer one."""
        return [str(b) if b - a == 1 else f"{a}-{b}" for a, b in zip(self.epochs, self.epochs[1:])]

    def forest_area_ha(self, zone: str) -> list[float]:
        """Forest area at each epoch, ha."""
        losses = np.concatenate([[0.0], np.cumsum(self.loss_ha[zone])])
        return [float(a) for a in self.forest_first_ha[zone] - losses]

    def transitions_ha(self, zone: str) -> dict[str, float]:
        """First epoch → last epoch: forest remaining, forest lost, non-forest remaining (ha)."""
        lost = float(sum(self.loss_ha[zone]))
        forest = self.forest_first_ha[zone]
        return {  # floored at 0: a wholly forested zone's sums can differ by a rounding error (−2e-12 ha)
            "forest_to_forest": max(0.0, forest - lost),
            "forest_to_nonforest": lost,
            "nonforest_to_nonforest": max(0.0, self.valid_area_ha[zone] - forest),
        }

    def to_dict(self) -> dict:
        """The ``forest_change`` block of results.json."""
        labels = self.period_labels
        return {
            "epochs": list(self.epochs),
            "periods": [[a, b] for a, b in zip(self.epochs, self.epochs[1:])],
            "zones": list(self.zones),
            "zone_area_ha": self.zone_area_ha,
            "valid_area_ha": self.valid_area_ha,
            "forest_area_ha": {zone: dict(zip(map(str, self.epochs), self.forest_area_ha(zone)))
                               for zone in self.zones},
            "loss_ha": {zone: dict(zip(labels, map(float, self.loss_ha[zone]))) for zone in self.zones},
            "transitions_ha": {zone: self.transitions_ha(zone) for zone in self.zones},
        }

    def write_csvs(self, forest_path, loss_path, transitions_path) -> None:
        """Three long-format tables that open in a spreadsheet."""
        with open(forest_path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["zone", "year", "forest_ha"])
            for zone in self.zones:
                for year, area in zip(self.epochs, self.forest_area_ha(zone)):
                    writer.writerow([zone, year, f"{area:.4f}"])
        with open(loss_path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["zone", "period_start", "period_end", "loss_ha"])
            for zone in self.zones:
                for (a, b), loss in zip(zip(self.epochs, self.epochs[1:]), self.loss_ha[zone]):
                    writer.writerow([zone, a, b, f"{loss:.4f}"])
        with open(transitions_path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["zone", "from_year", "to_year", "transition", "area_ha"])
            for zone in self.zones:
                for name, area in self.transitions_ha(zone).items():
                    writer.writerow([zone, self.epochs[0], self.epochs[-1], name, f"{area:.4f}"])


def _counted(forest, masks: dict, admin_id, n_units: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(per mask, per unit, per unit's cells) the forest states' cell counts (:func:`icam.forest.classes.
    forest_state_counts`, one compiled pass where NumPy took int64 copies of the raster and a pass per zone)."""
    admin = admin_id if n_units else np.zeros((1, 1), np.int32)
    rasters = tuple(np.ascontiguousarray(m, dtype=bool) for m in masks.values())  # one type: compiled once
    return forest_state_counts(forest.forest_first, forest.valid, forest.loss_period, rasters, admin,
                               forest.n_periods, n_units)


def _weighted(forest, masks: dict, admin_id, n_units: int,
              cell_area: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_counted`'s areas where cells differ in area (per row on a Mercator grid), each cell weighted."""
    n_periods = forest.n_periods
    # code 0: valid non-forest at the first epoch; p: lost in period p; n_periods + 1: never lost
    lp = forest.loss_period.astype(np.int64)
    state = np.where(forest.forest_first & forest.valid, np.where(lp == 0, n_periods + 1, lp), 0)
    per_code_len = n_periods + 2
    by_code = np.array([area_by_code(state, mask & forest.valid, cell_area, per_code_len) for mask in masks.values()])
    if not n_units:
        return by_code, np.zeros((1, per_code_len)), np.zeros(1)
    combined = admin_id.astype(np.int64) * per_code_len + state
    by_unit = area_by_code(combined, forest.valid, cell_area, n_units * per_code_len).reshape(n_units, per_code_len)
    return by_code, by_unit, area_by_code(admin_id, np.ones(forest.shape, bool), cell_area, n_units)


def zone_statistics(landscape: Landscape) -> ZoneStats:
    """Zone areas, forest at the first epoch and loss per period, for every zone and the whole grid."""
    forest = landscape.forest
    cell_area = landscape.grid.cell_area_ha()
    n_periods = forest.n_periods
    zone_masks = landscape.zones.masks()
    masks = {ALL_ZONE: np.ones(forest.shape, dtype=bool)}
    masks.update({name: zone_masks[name] for name in zone_masks if not name.startswith("admin:")})
    zones = landscape.zones
    units = zones.admin_names if zones.admin_id is not None and zones.admin_names else ()
    n_units = len(units) + 1 if units else 0  # unit 0: in no unit
    if np.all(cell_area == cell_area[0, 0]):  # a projected grid: counts × the cell's area, in one pass
        by_code, by_unit, unit_area = _counted(forest, masks, zones.admin_id, n_units)
        by_code, by_unit, unit_area = (a * float(cell_area[0, 0]) for a in (by_code, by_unit, unit_area))
    else:
        by_code, by_unit, unit_area = _weighted(forest, masks, zones.admin_id, n_units, cell_area)
    result = {name: (landscape.grid.area_ha(mask), codes) for (name, mask), codes in zip(masks.items(), by_code)}
    for i, unit in enumerate(units, start=1):
        result[f"admin:{unit}"] = (float(unit_area[i]), by_unit[i])

    return ZoneStats(
        epochs=forest.epochs,
        zones=tuple(result),
        zone_area_ha={z: float(area) for z, (area, _) in result.items()},
        valid_area_ha={z: float(codes.sum()) for z, (_, codes) in result.items()},
        forest_first_ha={z: float(codes[1:].sum()) for z, (_, codes) in result.items()},
        loss_ha={z: tuple(float(v) for v in codes[1 : n_periods + 1]) for z, (_, codes) in result.items()},
    )
