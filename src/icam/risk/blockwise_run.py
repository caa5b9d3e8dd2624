"""The VT0007 benchmark run block by block, from a change map on disk to its risk map on disk.

The steps of :func:`icam.risk.workflow.run_benchmark` (VT0007 v1.0 §5.3, §5.5), each a pass over the blocks
of :mod:`icam.risk.blockwise` on the scheduler asked for: the t1 distance histograms give both NRTs; the
classes at t1 give the calibration and historical fits and the calibration assessment; the classes at t2
the confirmation assessment; the classes at t3 the groups the expected deforestation is adjusted over, and
a last pass writes the risk map and the classes by window into tiled GeoTIFFs, made COGs at the end. The
parent holds counts, one block's results at a time and the two output files; the workers one block and
its halo each.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from icam.core.blocks import BlockGrid, block_executor, imap
from icam.core.errors import InputError
from icam.landscape.grid import Grid
from icam.landscape.raster import RasterWriter
from icam.risk import benchmark as bm
from icam.risk import validate as va
from icam.risk.blockwise import DISTANCE_CAP_M, Blocks, ChangeMap, class_counts, classed_groups, histograms, merge
from icam.risk.quantity import adjust_to_quantity, density_per_year
from icam.risk.workflow import Assessment, PeriodFit, benchmark_summary

FIT_PERIODS = {"calibration": ("t1", "t2"), "historical": ("t1", "t3")}


@dataclass(frozen=True)
class Counts:
    """One pass's counts summed over the blocks (:func:`icam.risk.blockwise.class_counts`)."""

    group_px: tuple[np.ndarray, np.ndarray]
    group_lost: tuple[np.ndarray, np.ndarray]
    group_cell: tuple[np.ndarray, np.ndarray]
    row_cell_lost: tuple[np.ndarray, np.ndarray]
    cell_units: tuple[np.ndarray, np.ndarray]
    rows_forest: np.ndarray
    rows_lost: np.ndarray

    @classmethod
    def summed(cls, parts: list[dict], windows: list[tuple[slice, slice]], height: int) -> "Counts":
        rows_forest, rows_lost = np.zeros(height, np.int64), np.zeros(height, np.int64)
        for part, window in zip(parts, windows):
            rows_forest[window[0]] += part["rows_forest"]
            rows_lost[window[0]] += part["rows_lost"]
        sparse = {key: merge([p[key] for p in parts]) for key in ("group_px", "group_lost", "group_cell",
                                                                  "row_cell_lost", "cell_units")}
        return cls(**sparse, rows_forest=rows_forest, rows_lost=rows_lost)

    def lost_of(self, keys: np.ndarray) -> np.ndarray:
        """Deforested pixels of each group of ``keys``."""
        out = np.zeros(keys.size, np.int64)
        out[np.searchsorted(keys, self.group_lost[0])] = self.group_lost[1]
        return out


@dataclass(frozen=True, eq=False)
class BlockBenchmark:
    """The benchmark's fits and assessments (as :class:`icam.risk.workflow.BenchmarkResult`); its maps are files."""

    calibration: PeriodFit
    calibration_assessment: Assessment
    confirmation_assessment: Assessment
    historical: PeriodFit
    expected_ha: float
    validity_years: float
    expected_source: str
    allocated_ha_per_year: float
    risk_path: Path | None
    classes_path: Path | None

    def to_dict(self) -> dict:
        return benchmark_summary(self, self.allocated_ha_per_year)


@dataclass(frozen=True)
class _Run:
    blocks: Blocks
    grid: Grid
    windows: list
    by_row: bool
    assessment_cell_ha: float

    @property
    def cell_m(self) -> float:
        return self.grid.resolution_m

    def region_of(self, keys: np.ndarray) -> np.ndarray:
        return keys // self.grid.height if self.by_row else keys

    def area_of(self, keys: np.ndarray) -> np.ndarray:
        area_by_row = self.grid.cell_area_ha()[:, 0]
        return area_by_row[keys % self.grid.height] if self.by_row else np.full(keys.size, area_by_row[0])

    def counts(self, pool, date: str, specs: list[tuple[float, str]]) -> list[Counts]:
        n = len(self.windows)
        parts = list(imap(pool, class_counts, [self.blocks] * n, self.windows, [date] * n, [specs] * n,
                          [self.cell_m] * n, [self.by_row] * n, [self.grid.height] * n))
        return [Counts.summed([p[i] for p in parts], self.windows, self.grid.height) for i in range(len(specs))]

    def fit(self, counts: Counts, name: str, years: tuple[int, int], nrt: float) -> PeriodFit:
        keys, px = counts.group_px
        regions, inverse = np.unique(self.region_of(keys), return_inverse=True)
        forest_px = np.bincount(inverse, weights=px).astype(np.int64)
        lost_px = np.bincount(inverse, weights=counts.lost_of(keys), minlength=regions.size).astype(np.int64)
        area_by_row = self.grid.cell_area_ha()[:, 0]
        return PeriodFit(name=name, start_year=years[0], end_year=years[1], nrt_m=nrt,
                         class_limits_m=bm.class_limits_m(nrt, self.cell_m),
                         fit=bm.fit_from_counts(regions, forest_px, lost_px),
                         deforested_ha=float(counts.rows_lost @ area_by_row),
                         forest_at_start_ha=float(counts.rows_forest @ area_by_row))

    def adjusted(self, fit: bm.BenchmarkFit, counts: Counts, expected_ha: float) -> tuple[np.ndarray, np.ndarray]:
        """(group keys, each group's density per pixel adjusted to ``expected_ha``): ``workflow._groups``."""
        keys, px = counts.group_px
        region, area = self.region_of(keys), self.area_of(keys)
        frequency = bm.predict_density(fit, bm.region_class(region, fit.n_classes),
                                       bm.region_admin(region, fit.n_classes), 1.0)
        return keys, adjust_to_quantity(frequency * area, expected_ha, area, weights=px)[0]

    def assess(self, name: str, fit: PeriodFit, counts: Counts) -> Assessment:
        """The fit's frequencies on the period's classes, adjusted to its actual loss, per assessment cell."""
        n = self.blocks.n_cells
        lost_keys, lost_n = counts.row_cell_lost
        lost_ha = lost_n * self.grid.cell_area_ha()[:, 0][lost_keys // n]
        keys, density = self.adjusted(fit.fit, counts, float(lost_ha.sum()))
        pair_keys, pair_n = counts.group_cell
        cell = pair_keys % n
        predicted = np.bincount(cell, weights=density[np.searchsorted(keys, pair_keys // n)] * pair_n, minlength=n)
        actual = np.bincount(lost_keys % n, weights=lost_ha, minlength=n)
        cell_ids = np.unique(cell)
        unit_keys, unit_n = counts.cell_units
        n_pixels = np.zeros(n, np.int64)
        n_pixels[unit_keys] = unit_n
        comparison = va.CellComparison(cell_ids=cell_ids, predicted_ha=predicted[cell_ids],
                                       actual_ha=actual[cell_ids], n_pixels=n_pixels[cell_ids])
        return Assessment(name=name, cell_area_ha=self.assessment_cell_ha, comparison=comparison, density=None,
                          side_px=self.blocks.cell_side_px)


def risk_block(blocks: Blocks, window: tuple[slice, slice], nrt_m: float, cell_m: float, by_row: bool, height: int,
               keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A block of the risk map (ha/pixel/year; −1 outside the units) and of the classes at t3 (block task)."""
    _, units, forest, distance = blocks.read(window, "t3")
    classes, counted, group = classed_groups(distance, forest, units, blocks.cells(window)[0], nrt_m, cell_m, by_row,
                                             height)
    risk = np.where(units > 0, np.float32(0), np.float32(-1))
    risk[counted] = values[np.searchsorted(keys, group)]
    return risk, classes


def _nrts(pool, run: _Run) -> tuple[_Run, dict[str, float]]:
    """Both NRTs from the t1 histograms; where one reaches the cap (it could be the cap's doing), again with a
    cap four times as long, up to the map's diagonal (a longer halo costs every pass: start short)."""
    n = len(run.windows)
    parts = list(imap(pool, histograms, [run.blocks] * n, run.windows, [run.cell_m] * n))
    cap_m = run.blocks.cap_m
    nrts = {}
    for i, period in enumerate(FIT_PERIODS):
        histogram = np.zeros(max(p[i].size for p in parts), np.int64)
        for p in parts:
            histogram[:p[i].size] += p[i]
        if not histogram.any():
            raise InputError(f"no deforestation in the {period} period", "the benchmark needs historical loss to fit")
        nrts[period] = bm.nrt_from_histogram(histogram, run.cell_m)
        if bm.cap_changes_nrt(nrts[period], cap_m, run.cell_m):
            if bm.cap_spans_map(cap_m, run.grid):
                raise InputError(f"the {period} period's negligible risk threshold spans the whole map",
                                 "check the change map: loss should lie mostly near the forest edge")
            return _nrts(pool, replace(run, blocks=replace(run.blocks, cap_m=cap_m * 4)))
    return run, nrts


def run_benchmark_by_blocks(change: ChangeMap, years: tuple[int, int, int], grid: Grid, out: Path | None, *,
                            expected_ha: float | None = None, validity_years: float = 6.0,
                            assessment_cell_ha: float = va.MEDIAN_PROJECT_HA, cap_m: float = DISTANCE_CAP_M,
                            block_px: int = 1024, scheduler: str | None = None) -> BlockBenchmark:
    """:func:`icam.risk.workflow.run_benchmark` block by block; the risk map and the classes at t3 are written
    to ``out``/risk_ha_per_year.tif and vulnerability_classes.tif (COG) where ``out`` is given. ``cap_m``: the
    first distance cap (longer ones follow where an NRT reaches it)."""
    if change.shape != grid.shape:
        raise InputError(f"the change map {change.shape} and the grid {grid.shape} differ in shape")
    if not cap_m > 2 * grid.resolution_m:
        raise InputError(f"the distance cap ({cap_m} m) must exceed two cells ({2 * grid.resolution_m} m)")
    t1, t2, t3 = years
    side = va.assessment_cell_side_px(grid.resolution_m, assessment_cell_ha)
    blocks = Blocks(change, *bm._cell_sizes(grid), float(cap_m), int(block_px), side)
    run = _Run(blocks, grid, list(BlockGrid(grid.shape, block_px).windows()), grid.is_area_corrected,
               assessment_cell_ha)
    with block_executor(scheduler) as pool:
        run, nrt = _nrts(pool, run)
        cal_counts, hist_counts = run.counts(pool, "t1", [(nrt["calibration"], "calibration"),
                                                          (nrt["historical"], "historical")])
        calibration = run.fit(cal_counts, "calibration", (t1, t2), nrt["calibration"])
        historical = run.fit(hist_counts, "historical", (t1, t3), nrt["historical"])
        cal = run.assess("calibration", calibration, cal_counts)
        (cnf_counts,) = run.counts(pool, "t2", [(nrt["calibration"], "confirmation")])
        cnf = run.assess("confirmation", calibration, cnf_counts)
        if expected_ha is None:
            expected_ha, source = historical.deforested_ha / (t3 - t1) * validity_years, \
                f"historical mean {t1}–{t3} × {validity_years:g} years"
        else:
            source = "given"
        (risk_counts,) = run.counts(pool, "t3", [(nrt["historical"], "none")])
        keys, adjusted = run.adjusted(historical.fit, risk_counts, expected_ha)
        per_year = density_per_year(adjusted, validity_years).astype(np.float32)
        allocated = float(per_year.astype(np.float64) @ risk_counts.group_px[1])
        paths = _write_maps(pool, run, out, nrt["historical"], keys, per_year) if out is not None else (None, None)
    return BlockBenchmark(calibration=calibration, calibration_assessment=cal, confirmation_assessment=cnf,
                          historical=historical, expected_ha=float(expected_ha), validity_years=float(validity_years),
                          expected_source=source, allocated_ha_per_year=allocated, risk_path=paths[0],
                          classes_path=paths[1])


def _write_maps(pool, run: _Run, out: Path, nrt_m: float, keys: np.ndarray, per_year: np.ndarray):
    n = len(run.windows)
    out.mkdir(parents=True, exist_ok=True)
    risk_path, classes_path = out / "risk_ha_per_year.tif", out / "vulnerability_classes.tif"
    with RasterWriter(risk_path, run.grid, "float32", -1.0, categorical=False) as risk_file, \
            RasterWriter(classes_path, run.grid, "uint8", 255) as classes_file:
        for window, (risk, classes) in zip(run.windows, imap(
                pool, risk_block, [run.blocks] * n, run.windows, [nrt_m] * n, [run.cell_m] * n, [run.by_row] * n,
                [run.grid.height] * n, [keys] * n, [per_year] * n)):
            risk_file.write(window, risk)
            classes_file.write(window, classes)
    return risk_path, classes_path


__all__ = ["BlockBenchmark", "run_benchmark_by_blocks"]
