"""The VT0007 benchmark over a historical reference period split in two: fit, test, predict.

Source: Verra, *VT0007 Unplanned Deforestation Allocation (UDef-A)* v1.0 (2024) §5.3 and §5.5,
as Clark Labs' UDef-ARP runs them. Three forest maps at t1 < t2 < t3 give three periods:

- calibration (t1→t2): negligible-risk threshold (NRT) and classes from the forest edge at t1,
  relative frequency per modelling region fitted on the t1→t2 loss; the fitted density, adjusted
  to the actual t1→t2 loss, is assessed against it ("the calibration fit");
- confirmation (t2→t3): classes rebuilt from the forest edge at t2 with the calibration NRT and
  class limits, the calibration frequencies applied, adjusted to the actual t2→t3 loss, assessed
  against it ("the CNF prediction");
- historical (t1→t3): NRT, classes and frequencies refitted on the whole period; applied to the
  forest edge at t3 they give the benchmark risk map for the future, adjusted to the expected
  deforestation of the validity period and delivered in ha/pixel/year.

Assessment in square cells of ``assessment_cell_ha`` (VT0007: the median project size, 100,000
ha when unknown) over the cells holding forest at the start of the period (inside the
administrative units when given): cells without forest can hold neither predicted nor actual
loss, so they would only add zero errors. Areas are true cell areas (:meth:`Grid.cell_area_ha`).
"""

from __future__ import annotations

import math
from concurrent.futures import Executor
from dataclasses import dataclass, replace

import numpy as np
from affine import Affine

from icam.core.errors import InputError
from icam.core.indices import bincount, bincount_of_groups, flat_indices
from icam.core.spilled import SpilledRaster
from icam.landscape.grid import Grid
from icam.risk import benchmark as bm
from icam.risk import validate as va
from icam.risk.blockwise import DISTANCE_CAP_M
from icam.risk.quantity import adjust_to_quantity, density_per_year

VALIDITY_YEARS = 6  # VM0048 v1.0: the baseline is valid for six years, then reassessed


@dataclass(frozen=True, eq=False)
class PeriodFit:
    """The benchmark fitted on one period: threshold, class limits and frequencies per region."""

    name: str
    start_year: int
    end_year: int
    nrt_m: float
    class_limits_m: np.ndarray  # descending, UL = NRT .. LL = cell size
    fit: bm.BenchmarkFit
    deforested_ha: float
    forest_at_start_ha: float

    @property
    def years(self) -> int:
        return self.end_year - self.start_year

    def class_bounds_m(self) -> list[float]:
        """Class limits ascending, LL (the cell size) .. UL (the NRT), metres, as riskmapjnr lists them."""
        return [float(v) for v in self.class_limits_m[::-1]]

    def class_table(self) -> list[dict]:
        """One row per vulnerability class: distance range, pixels, relative frequency, annual rate.

        The annual rate is 1 − (1 − f)^(1/years) for the relative frequency f over the period
        (Puyravaud 2003's compound rate, as riskmapjnr reports per class).
        """
        n = self.fit.n_classes
        classes = bm.region_class(self.fit.region_ids, n)
        forest = np.bincount(classes, weights=self.fit.forest_px, minlength=n + 1)
        lost = np.bincount(classes, weights=self.fit.deforested_px, minlength=n + 1)
        limits = self.class_limits_m
        rows = []
        for k in range(1, n + 1):
            upper = math.inf if k == 1 else float(limits[k - 2])
            lower = float(limits[k - 1]) if k <= limits.size else 0.0
            frequency = lost[k] / forest[k] if forest[k] else 0.0
            rows.append({"class": k, "distance_from_m": 0.0 if k == n else lower, "distance_to_m": upper,
                         "forest_px": int(forest[k]), "deforested_px": int(lost[k]),
                         "relative_frequency": float(frequency),
                         "annual_rate": float(1 - (1 - frequency) ** (1 / self.years))})
        return rows

    def to_dict(self) -> dict:
        return {"start_year": self.start_year, "end_year": self.end_year, "threshold_m": self.nrt_m,
                "class_bounds_m": self.class_bounds_m(), "deforested_ha": self.deforested_ha,
                "forest_at_start_ha": self.forest_at_start_ha, "n_regions": int(self.fit.region_ids.size)}


@dataclass(frozen=True, eq=False)
class PixelValues:
    """Values on some pixels of a grid (row-major flat indices), 0 elsewhere: a map kept sparse until needed."""

    index: np.ndarray
    values: np.ndarray
    shape: tuple[int, int]

    def dense(self) -> np.ndarray:
        """The map, float32 (rows, cols)."""
        out = np.zeros(self.shape[0] * self.shape[1], dtype=np.float32)
        out[self.index] = self.values
        return out.reshape(self.shape)


@dataclass(frozen=True, eq=False)
class ClassScore:
    """The benchmark's relative frequency (per historical period) at each classed pixel of ``classes``, 0 elsewhere,
    computed when asked (only where the benchmark is the chosen map): kept as indices and values it was 320 MB at a
    jurisdiction for the whole risk stage."""

    fit: bm.BenchmarkFit
    classes: np.ndarray  # uint8 vulnerability classes at t3
    units: np.ndarray | int
    grid: Grid

    def dense(self) -> np.ndarray:
        """The map, float32 (rows, cols)."""
        groups = _groups(self.fit, self.classes, self.units, self.grid)
        return groups.dense(groups.frequency, self.grid.shape)


@dataclass(frozen=True, eq=False)
class Assessment:
    """A density map (ha/pixel over the period) against the actual loss, in VT0007 assessment cells."""

    name: str
    cell_area_ha: float
    comparison: va.CellComparison
    density: PixelValues | None  # adjusted density, ha/pixel over the period (None: not kept, block-wise)
    side_px: int  # side of the square assessment cells, pixels

    def metrics(self) -> dict:
        c = self.comparison
        return {"medae_ha": va.median_absolute_error(c), "mae_ha": va.mean_absolute_error(c),
                "r2": finite_or_none(va.r_squared(c)), "iou": va.iou(c),
                "weighted_rmse_ha": va.weighted_rmse_of_cells(c), "n_cells": int(c.cell_ids.size),
                "assessment_cell_ha": self.cell_area_ha,
                "predicted_ha": float(c.predicted_ha.sum()), "actual_ha": float(c.actual_ha.sum())}

    def residual_raster(self, grid: Grid) -> tuple[np.ndarray, Grid]:
        """Actual − predicted (ha) per assessment cell as a coarse raster (one pixel per cell) and its grid.

        float32, NaN where the cell was not assessed; the grid shares the pixel grid's origin and CRS
        with cells of ``side_px`` pixels, so it lies exactly over the map in QGIS.
        """
        side = self.side_px
        rows, cols = -(-grid.height // side), -(-grid.width // side)
        values = np.full(rows * cols, np.nan, dtype=np.float32)
        c = self.comparison
        values[c.cell_ids] = c.actual_ha - c.predicted_ha
        coarse = Grid(grid.crs_wkt, grid.transform @ Affine.scale(side), rows, cols)
        return values.reshape(rows, cols), coarse


@dataclass(frozen=True, eq=False)
class NearEdge:
    """The forest nearer its edge than a period's NRT (its vulnerability classes 2 and up), bit-packed: for each
    of ``"calibration_t1"``, ``"calibration_t2"`` (the calibration NRT at t1 and t2) and ``"historical_t1"``. The
    local rate classes these cells (riskmapjnr); read here, they cost it no distance transform of its own (1.4 to
    1.6 s each at a jurisdiction's 61 million pixels), and a jurisdiction's mask is 7.6 MB packed."""

    shape: tuple[int, ...]
    packed: dict[str, np.ndarray]

    @staticmethod
    def pack(classes: np.ndarray) -> np.ndarray:
        """A period's packed cells from its vulnerability classes (:func:`icam.risk.benchmark.vulnerability_classes`),
        taken as soon as the classes are made, so that no classes raster is kept for them."""
        return np.packbits(classes >= 2)

    def mask(self, key: str) -> np.ndarray:
        """``key``'s cells as a bool raster."""
        return np.unpackbits(self.packed[key], count=math.prod(self.shape)).view(bool).reshape(self.shape)


def finite_or_none(value: float) -> float | None:
    """``value``, or None where it is NaN or infinite (JSON has neither)."""
    return value if math.isfinite(value) else None


@dataclass(frozen=True, eq=False)
class BenchmarkResult:
    """The three periods' fits and assessments, and the benchmark risk map for the future."""

    calibration: PeriodFit
    calibration_assessment: Assessment
    confirmation_assessment: Assessment
    historical: PeriodFit
    risk_classes: np.ndarray  # uint8 vulnerability classes from the forest edge at t3 (historical NRT)
    # float32 ha/pixel/year over the validity period (in a file where the candidates run:
    # icam.risk.candidates.run_candidates); None where the pipeline keeps only the chosen candidate's map
    # (icam.pipeline.stages.risk.kept), its total in allocated_ha_per_year
    risk_ha_per_year: np.ndarray | SpilledRaster | None
    risk_score: ClassScore  # relative frequency (per historical period) of each forest pixel at t3
    expected_ha: float
    validity_years: float
    expected_source: str
    allocated_ha_per_year: float | None = None  # the risk map's total, ha/yr (None in a result cached before it)
    near_edge: NearEdge | None = None  # the local rate's classed cells; None where the pipeline keeps the result

    def to_dict(self) -> dict:
        allocated = self.allocated_ha_per_year
        if allocated is None:
            allocated = float(np.asarray(self.risk_ha_per_year).sum(dtype=np.float64))
        return benchmark_summary(self, allocated)


def benchmark_summary(result, allocated_ha_per_year: float) -> dict:
    """results.json's benchmark section of a :class:`BenchmarkResult`, or of the block-wise run's result
    (:mod:`icam.risk.blockwise_run`: the same fits and assessments, its maps on disk)."""
    return {
        "method": "VT0007 v1.0 benchmark (UDef-ARP conventions)",
        "calibration": {**result.calibration.to_dict(), **result.calibration_assessment.metrics()},
        "confirmation": {"start_year": result.calibration.end_year, "end_year": result.historical.end_year,
                         **result.confirmation_assessment.metrics()},
        "historical": result.historical.to_dict(),
        "risk_map": {"start_year": result.historical.end_year, "validity_years": result.validity_years,
                     "expected_ha": result.expected_ha, "expected_source": result.expected_source,
                     "expected_ha_per_year": result.expected_ha / result.validity_years,
                     "allocated_ha_per_year": allocated_ha_per_year},
    }


def _check_forest_sequence(forest: tuple[np.ndarray, np.ndarray, np.ndarray], years: tuple[int, int, int]):
    f1, f2, f3 = (np.asarray(f, dtype=bool) for f in forest)
    if not (f1.shape == f2.shape == f3.shape):
        raise InputError(f"forest maps differ in shape: {f1.shape}, {f2.shape}, {f3.shape}")
    t1, t2, t3 = years
    if not t1 < t2 < t3:
        raise InputError(f"the years must increase, got {t1}, {t2}, {t3}", "give them as t1,t2,t3")
    regrowth = int(np.count_nonzero(f2 & ~f1) + np.count_nonzero(f3 & ~f2))
    if regrowth:
        raise InputError(f"{regrowth:,} cells are forest at a later date but not at an earlier one",
                         "the benchmark needs forest maps without regrowth (forest t3 ⊆ t2 ⊆ t1)")
    return f1, f2, f3


def fit_period(name: str, years: tuple[int, int], forest_start: np.ndarray, deforested: np.ndarray,
               distance_m: np.ndarray, units: np.ndarray | int, grid: Grid) -> tuple[PeriodFit, np.ndarray]:
    """NRT, class limits and relative frequencies fitted on one period (VT0007 §5.3), and the classes."""
    cell = grid.resolution_m
    lost_distances = distance_m[deforested]
    if lost_distances.size == 0:
        raise InputError(f"no deforestation in the {name} period ({years[0]}–{years[1]})",
                         "the benchmark needs historical deforestation to fit")
    nrt = bm.negligible_risk_threshold_m(lost_distances, cell)
    classes = bm.vulnerability_classes(distance_m, forest_start, nrt, cell)
    fit = bm.fit_relative_frequency(classes, units, deforested, forest_start)
    return PeriodFit(name=name, start_year=years[0], end_year=years[1], nrt_m=nrt,
                     class_limits_m=bm.class_limits_m(nrt, cell), fit=fit,
                     deforested_ha=grid.area_ha(deforested), forest_at_start_ha=grid.area_ha(forest_start)), classes


@dataclass(frozen=True, eq=False)
class _Groups:
    """The classed (forest) pixels grouped by modelling region, and by row where cell areas vary.

    Every pixel of a group has the same density and area, so the quantity adjustment runs on the
    groups (a few hundred to a few million) instead of the pixels (tens of millions).
    """

    index: np.ndarray  # flat indices of the classed pixels
    group: np.ndarray  # group of each of them
    frequency: np.ndarray  # relative frequency per group (per period)
    area_ha: np.ndarray  # cell area per group
    n_px: np.ndarray  # pixels per group

    def adjusted_group_ha(self, expected_ha: float) -> np.ndarray:
        """Density per group (ha), adjusted to ``expected_ha`` (UDef-ARP's iteration): each pixel's is its
        group's."""
        adjusted, _ = adjust_to_quantity(self.frequency * self.area_ha, expected_ha, self.area_ha,
                                         weights=self.n_px)
        return adjusted

    def dense(self, per_group: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """A float32 map of ``shape``: each classed pixel its group's value, 0 elsewhere. Spread a range of
        pixels at a time: a float64 value per pixel was 0.28 GB at a jurisdiction's risk peak."""
        out = np.zeros(shape[0] * shape[1], dtype=np.float32)
        values = per_group.astype(np.float32)  # the cast of each value, as an assignment of float64 makes it
        for start in range(0, self.index.size, _SPREAD_PX):
            part = slice(start, start + _SPREAD_PX)
            out[self.index[part]] = values[self.group[part]]
        return out.reshape(shape)


_SPREAD_PX = 1 << 24  # pixels :meth:`_Groups.dense` spreads at a time (64 MB of float32 values)


def _dense_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values ascending, code of each value): a bincount when the values are small, else a sort."""
    if values.size and int(values.max()) <= 50_000_000:
        present = np.flatnonzero(bincount(values))
        # int32 codes where they fit: half the memory over a jurisdiction's 36 million forest pixels
        lookup = np.zeros(int(present[-1]) + 1, dtype=np.int32 if present.size < 2**31 else np.int64)
        lookup[present] = np.arange(present.size)
        return present, lookup[values]
    return np.unique(values, return_inverse=True)


def _groups(fit: bm.BenchmarkFit, classes: np.ndarray, units, grid: Grid) -> _Groups:
    index = flat_indices(classes)  # int32 where the raster allows
    unit = units if np.ndim(units) == 0 else np.asarray(units).ravel()[index]
    regions, code = _dense_codes(bm.modelling_regions(classes.ravel()[index], unit, fit.n_classes))
    area_by_row = grid.cell_area_ha()[:, 0]
    if grid.is_area_corrected:  # areas change by row: group by (region, row)
        keys, group = _dense_codes(code.astype(np.int64) * grid.height + index // grid.width)
        region, area = regions[keys // grid.height], area_by_row[keys % grid.height]
    else:
        group, region, area = code, regions, np.full(regions.size, area_by_row[0])
    frequency = bm.predict_density(fit, bm.region_class(region, fit.n_classes),
                                   bm.region_admin(region, fit.n_classes), 1.0)
    return _Groups(index=index, group=group, frequency=frequency, area_ha=area,
                   n_px=bincount(group, minlength=region.size))


def compare_on_forest(name: str, index: np.ndarray, adjusted_ha: np.ndarray, lost: np.ndarray,
                      lost_area_ha: np.ndarray, cells: va.AssessmentCells, cell_px: np.ndarray, grid: Grid,
                      cell_area_ha: float, keep_density: bool = True, group: np.ndarray | None = None
                      ) -> Assessment:
    """An adjusted density on the forest pixels against their actual loss, summed per assessment cell.

    index: flat indices of the forest pixels at the start of the period; adjusted_ha, lost (bool): per pixel
    of ``index``; lost_area_ha: the area of each lost pixel, in their order in ``index`` (a pixel's area
    matters only where it was lost); cells: the assessment cells' layout (their ids computed for these pixels
    only). Only forest pixels can hold predicted or actual loss, so the sums run over them (a few % of a
    jurisdiction's pixels); the cells compared are those holding forest, and a cell's pixel count (its area,
    for the weighted RMSE) is its count in the jurisdiction, ``cell_px``. Every candidate map is assessed by
    this one function; ``keep_density=False`` leaves the per-pixel density out of the assessment (its
    comparison is what the tests read). ``group``: each pixel's group, ``adjusted_ha`` then being per group
    (the benchmark's: its pixels' densities are their groups', never spread to a float64 per pixel).
    """
    cell_of = cells.ids(index)
    size = cell_px.size
    cell_ids = np.flatnonzero(bincount(cell_of, minlength=size))
    predicted_ha = (bincount(cell_of, weights=adjusted_ha, minlength=size) if group is None
                    else bincount_of_groups(cell_of, group, adjusted_ha, minlength=size))
    comparison = va.CellComparison(
        cell_ids=cell_ids, predicted_ha=predicted_ha[cell_ids],
        actual_ha=bincount(cell_of[lost], weights=lost_area_ha, minlength=size)[cell_ids],
        n_pixels=cell_px[cell_ids].astype(np.int64))
    del cell_of
    density = None
    if keep_density:
        values = adjusted_ha.astype(np.float32)
        density = PixelValues(index, values if group is None else values[group], grid.shape)
    return Assessment(name=name, cell_area_ha=cell_area_ha, comparison=comparison, density=density,
                      side_px=va.assessment_cell_side_px(grid.resolution_m, cell_area_ha))


def _assess(name: str, fit: PeriodFit, classes: np.ndarray, units, deforested: np.ndarray, cell_px: np.ndarray,
            grid: Grid, cells: va.AssessmentCells, cell_area_ha: float, keep_density: bool = True) -> Assessment:
    """The period's fitted frequencies on its classes, adjusted to the actual loss, in assessment cells
    (``keep_density``: :func:`compare_on_forest`'s)."""
    groups = _groups(fit.fit, classes, units, grid)
    lost = deforested.ravel()[groups.index]
    lost_area = groups.area_ha[groups.group[lost]]  # not every pixel's: 0.29 GB at a jurisdiction
    adjusted = groups.adjusted_group_ha(float(lost_area.sum()))
    return compare_on_forest(name, groups.index, adjusted, lost, lost_area, cells, cell_px, grid, cell_area_ha,
                             keep_density, group=groups.group)


@dataclass(frozen=True)
class EdgeDistance:
    """The benchmark's distances to the forest edge: the whole map's in this process, or, given a ``pool``
    (:func:`icam.core.blocks.block_executor`), capped at ``cap_m`` and computed block by block on it. The classes
    read distances below an NRT only (every pixel at or beyond it is class 1), so a cap above the NRTs changes
    none of them (:mod:`icam.risk.blockwise`, step 1); :meth:`covers` says when it is, :meth:`longer` grows it."""

    grid: Grid
    pool: Executor | None = None
    cap_m: float = DISTANCE_CAP_M

    def __call__(self, forest: np.ndarray) -> np.ndarray:
        if self._whole_map:
            return bm.distance_to_edge_m(forest, self.grid)
        return bm.distance_to_edge_capped_m(forest, self.grid, self.cap_m, pool=self.pool)

    @property
    def _whole_map(self) -> bool:
        return self.pool is None or bm.cap_spans_map(self.cap_m, self.grid)

    def covers(self, *nrts_m: float) -> bool:
        """Whether no NRT could be the cap's doing (:func:`icam.risk.benchmark.cap_changes_nrt`)."""
        return self._whole_map or not any(bm.cap_changes_nrt(n, self.cap_m, self.grid.resolution_m) for n in nrts_m)

    def longer(self) -> "EdgeDistance":
        """The cap four times as long (the whole map's distances once it passes the map's diagonal)."""
        return replace(self, cap_m=self.cap_m * 4)


def run_benchmark(forest: tuple[np.ndarray, np.ndarray, np.ndarray], years: tuple[int, int, int], grid: Grid,
                  units: np.ndarray | None = None, *, expected_ha: float | None = None,
                  validity_years: float = VALIDITY_YEARS,
                  assessment_cell_ha: float = va.MEDIAN_PROJECT_HA, pool: Executor | None = None) -> BenchmarkResult:
    """Calibration fit, confirmation test, historical fit and the benchmark risk map (VT0007 §5.3, §5.5).

    forest: bool maps at t1, t2, t3 on ``grid`` (forest only shrinks). units: integer
    administrative unit ids (0 = outside the jurisdiction) or None for one unit covering the grid.
    expected_ha: deforestation expected over the validity period (ha); by default the historical
    mean annual loss (t1→t3) × ``validity_years`` (VM0048's historical-average projection). pool: where the
    distances to the forest edge are computed block by block (:class:`EdgeDistance`; None: the whole map here).
    """
    if expected_ha is not None and not (math.isfinite(expected_ha) and expected_ha >= 0):
        raise InputError(f"the expected deforestation must be a non-negative number of ha, got {expected_ha}")
    if not validity_years > 0:
        raise InputError(f"the validity period must be longer than 0 years, got {validity_years}")
    f1, f2, f3 = _check_forest_sequence(forest, years)
    if f1.shape != grid.shape:
        raise InputError(f"forest maps {f1.shape} and grid {grid.shape} differ in shape")
    unit_ids = 1 if units is None else np.asarray(units)
    if units is not None:
        if unit_ids.shape != grid.shape:
            raise InputError(f"the units raster {unit_ids.shape} and the forest maps {grid.shape} differ in shape")
        f1, f2, f3 = f1 & (unit_ids > 0), f2 & (unit_ids > 0), f3 & (unit_ids > 0)
    t1, t2, t3 = years
    cells = va.AssessmentCells.of(grid.shape, grid.resolution_m, assessment_cell_ha)

    lost_cal, lost_all = f1 & ~f2, f1 & ~f3
    distance = EdgeDistance(grid, pool)
    while True:  # a longer cap where an NRT reaches it
        d1 = distance(f1)
        calibration, classes_1 = fit_period("calibration", (t1, t2), f1, lost_cal, d1, unit_ids, grid)
        historical, classes_h = fit_period("historical", (t1, t3), f1, lost_all, d1, unit_ids, grid)
        del d1
        near_edge = {"calibration_t1": NearEdge.pack(classes_1), "historical_t1": NearEdge.pack(classes_h)}
        del classes_h
        if distance.covers(calibration.nrt_m, historical.nrt_m):
            break
        distance = distance.longer()
    px = cells.pixels(unit_ids)  # pixels of the jurisdiction (units > 0; every pixel without units) per cell
    # the calibration's per-pixel density serves nothing after its sums (0.3 GB at a jurisdiction's forest); the
    # confirmation's gives the benchmark's AUC and figure of merit (icam.risk.candidates.benchmark_candidate)
    cal = _assess("calibration", calibration, classes_1, unit_ids, lost_cal, px, grid, cells, assessment_cell_ha,
                  keep_density=False)
    del classes_1

    classes_2 = bm.vulnerability_classes(distance(f2), f2, calibration.nrt_m, grid.resolution_m)
    cnf = _assess("confirmation", calibration, classes_2, unit_ids, f2 & ~f3, px, grid, cells, assessment_cell_ha)
    near_edge["calibration_t2"] = NearEdge.pack(classes_2)
    del classes_2

    risk_classes = bm.vulnerability_classes(distance(f3), f3, historical.nrt_m, grid.resolution_m)
    del f1, f2, f3, lost_cal, lost_all  # the zone's forest (0.3 GB at a jurisdiction) is in the classes now
    if expected_ha is None:
        expected_ha = historical.deforested_ha / (t3 - t1) * validity_years
        source = f"historical mean {t1}–{t3} × {validity_years:g} years"
    else:
        source = "given"
    groups = _groups(historical.fit, risk_classes, unit_ids, grid)
    risk = groups.dense(density_per_year(groups.adjusted_group_ha(expected_ha), validity_years), grid.shape)
    del groups
    score = ClassScore(historical.fit, risk_classes, unit_ids, grid)
    return BenchmarkResult(calibration=calibration, calibration_assessment=cal, confirmation_assessment=cnf,
                           historical=historical, risk_classes=risk_classes, risk_ha_per_year=risk, risk_score=score,
                           expected_ha=float(expected_ha), validity_years=float(validity_years),
                           expected_source=source, allocated_ha_per_year=float(risk.sum(dtype=np.float64)),
                           near_edge=NearEdge(grid.shape, near_edge))


def forest_from_fcc(fcc: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Forest at t1, t2, t3 from a forestatrisk change map (0 no data, 1 lost t1→t2, 2 lost t2→t3, 3 forest)."""
    fcc = np.asarray(fcc)
    values = np.unique(fcc)
    unexpected = values[~np.isin(values, (0, 1, 2, 3))]
    if unexpected.size:
        raise InputError(f"the change map holds values {unexpected[:5].tolist()} outside 0–3",
                         "use the forestatrisk convention: 0 no data, 1 lost in the first period, "
                         "2 lost in the second, 3 forest at the end")
    return fcc >= 1, fcc >= 2, fcc == 3
