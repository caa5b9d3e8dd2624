"""What the dynamic baseline and the counterfactual checks read of a landscape (:class:`MatchingLandscape`): the
loss years, the forest, the control area, the strata and the static covariates, and the covariates of a year
(the distance to the forest edge, the forest cover within 1 km) made from them."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass

import numba
import numpy as np

from icam.core.filters import uniform_filter_nearest
from icam.core.spilled import SpilledRaster
from icam.risk.benchmark import distance_to_edge_m

COVER_RADIUS_M = 1000.0  # PACT matches on the forest cover within 1 km


@dataclass(frozen=True, eq=False)
class MatchingLandscape:
    """What the dynamic baseline reads: the loss year of every cell (0 = never lost; only forest at the first
    year can be lost), the forest at the first year, the control area, the strata (0 = none, i = the i-th of
    ``strata_names``), the static covariates (name → raster) and the cell size."""

    loss_year: np.ndarray  # int16, calendar year
    forest_first: np.ndarray  # bool, forest at first_year
    first_year: int
    control: np.ndarray  # bool
    strata: np.ndarray  # int (the pipeline's: the smallest unsigned type holding the strata's number)
    strata_names: tuple[str, ...]
    static: Mapping[str, np.ndarray | SpilledRaster]
    cell_size_m: float
    cell_area_ha: float

    def forest_at(self, year: int) -> np.ndarray:
        """Forest at the end of ``year`` (the first year's forest where ``year`` is before it): in one compiled pass,
        not numpy's four over the raster and their three temporary masks."""
        return _forest_at(np.ascontiguousarray(self.forest_first), np.ascontiguousarray(self.loss_year), year)

    def edge_distance_m(self, year: int) -> np.ndarray:
        """The distance to non-forest at the end of ``year`` (m, float32 raster; +inf where the raster has no
        non-forest cell): the forest's own transform, without the two inversions of a mask of non-forest."""
        return distance_to_edge_m(self.forest_at(year), self.cell_size_m)

    def features(self, year: int, cells: np.ndarray | None = None, edge_m: np.ndarray | None = None,
                 skip: Collection[str] = ()) -> dict[str, np.ndarray]:
        """The hazard's covariates at the end of ``year``: the static ones and the distance to non-forest d
        as log1p(d / 100 m) and as d in km (the hazard falls steeply over the first hundred metres from the
        edge, then about exponentially with distance, deep into the interior where a protected forest's loss
        is: one log term alone misjudges the interior). With ``cells`` (flat indices), each covariate's values
        at those cells only, so that a jurisdiction's matching holds one raster at a time, not all of them, and
        a year's hazards take the edge's functions at the cells they read, not over the whole raster.
        ``edge_m``: :meth:`edge_distance_m` of ``year`` where several sets of cells share it, or its values at
        ``cells`` (one dimension) where they were kept. ``skip``: covariates not computed (not read, not held)."""
        return {**{name: values_at(raster, cells) for name, raster in self.static.items() if name not in skip},
                **self.edge_features(year, cells, edge_m, skip)}

    def edge_features(self, year: int, cells: np.ndarray | None = None, edge_m: np.ndarray | None = None,
                      skip: Collection[str] = ()) -> dict[str, np.ndarray]:
        """:meth:`features`' last two, the distance to non-forest's (the same arguments)."""
        if edge_m is None:
            edge_m = values_at(self.edge_distance_m(year), cells)
        else:
            edge_m = edge_m.copy() if cells is None or edge_m.ndim == 1 else values_at(edge_m, cells)
        edge_m[np.isinf(edge_m)] = np.hypot(*self.loss_year.shape) * self.cell_size_m  # no edge: the diagonal
        edge_km = None if "edge_km" in skip else edge_m / 1000.0
        # the log in the distance's own float32 buffer: a fresh raster's page faults cost more than its division
        edge_log = np.divide(edge_m, 100.0, out=edge_m)
        np.log1p(edge_log, out=edge_log)
        return {name: f for name, f in (("edge_log1p_100m", edge_log), ("edge_km", edge_km)) if name not in skip}

    def forest_cover_1km(self, year: int, cells: np.ndarray | None = None) -> np.ndarray:
        """The forest share within 1 km at the end of ``year`` (at ``cells``, flat indices, where given)."""
        size = max(3, int(round(2 * COVER_RADIUS_M / self.cell_size_m)) | 1)
        # SciPy's filter of the float32 forest, compiled (the same values): from the forest's mask into one float32
        # raster, its columns' sums kept side by side instead of gathered a column at a time
        return values_at(uniform_filter_nearest(self.forest_at(year), size), cells)

    def matching_features(self, year: int, cells: np.ndarray | None = None, edge_m: np.ndarray | None = None,
                          skip: Collection[str] = ()) -> dict[str, np.ndarray]:
        """:meth:`features` and the forest share within 1 km, on which PACT matches (also five and ten years
        before, which the first years of a forest record do not have). The share is not a covariate of the
        hazard: it falls as the neighbourhood is cleared, so in the regression it stands in for the loss it
        is meant to explain, and as the controls are cleared faster than a protected forest their modelled
        hazard would rise and their yearly level a_y fall for a reason that is not the year's."""
        return dict(self.matching_feature_items(year, cells, edge_m, skip))

    def matching_feature_items(self, year: int, cells: np.ndarray | None = None, edge_m: np.ndarray | None = None,
                               skip: Collection[str] = ()) -> Iterator[tuple[str, np.ndarray]]:
        """:meth:`matching_features`' (name, values), in its order, each computed when asked: a caller that keeps
        them elsewhere (a file) holds one at a time."""
        for name, raster in self.static.items():
            if name not in skip:
                yield name, values_at(raster, cells)
        yield from self.edge_features(year, cells, edge_m, skip).items()
        yield "forest_cover_1km", self.forest_cover_1km(year, cells)


def values_at(raster: np.ndarray | SpilledRaster, cells: np.ndarray | None) -> np.ndarray:
    """``raster`` itself (read whole where it is in a file), or its values at the flat indices ``cells`` (a
    copy)."""
    if isinstance(raster, SpilledRaster):
        return np.asarray(raster) if cells is None else raster.at(cells)
    return raster if cells is None else np.asarray(raster).ravel()[cells]


@numba.njit(cache=True, nogil=True)
def _forest_at(forest_first, loss_year, year):
    """``forest_first & ((loss_year == 0) | (loss_year > year))``."""
    forest = np.empty(forest_first.shape, np.bool_)
    first, lost, out = forest_first.ravel(), loss_year.ravel(), forest.ravel()
    for i in range(out.size):
        out[i] = first[i] and (lost[i] == 0 or lost[i] > year)
    return forest
