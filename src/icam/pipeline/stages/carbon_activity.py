"""The accounting's areas per calendar year, and the observed loss error-adjusted by the reference samples
(docs/methods.md, "Emission reductions and credits": observed loss and its standard error)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from rasterio.transform import rowcol

from icam.carbon.periods import MonitoringPeriod, prorate_annual
from icam.core.errors import InputError
from icam.forest.activity import CLASS_NAMES, FOREST_LOSS
from icam.forest.classes import area_by_code
from icam.forest.label_errors import corrected_loss, pure_strata_variance, stratified_total
from icam.forest.labels import read_labels
from icam.landscape import Landscape
from icam.pipeline.config import IcamConfig


def annual_loss_ha(landscape: Landscape, mask: np.ndarray) -> dict[int, float]:
    """Mapped forest loss (ha) per calendar year inside ``mask``; annual forest data only."""
    forest = landscape.forest
    if not forest.is_annual:
        raise InputError("the carbon accounting needs annual forest-loss data (one epoch per year)",
                         "use a Hansen, loss-year or yearly forest-map source")
    counts = area_by_code(forest.loss_period, mask & forest.valid, landscape.grid.cell_area_ha(), len(forest.epochs))
    # loss_period k = lost between epochs[k-1] and epochs[k]: the loss of calendar year epochs[k]
    return {int(year): float(counts[k]) for k, year in enumerate(forest.epochs) if k >= 1}


def baseline_annual_ha(source: str, risk, baseline, landscape: Landscape, mask: np.ndarray,
                       years: Sequence[int]) -> dict[int, float]:
    """Baseline deforestation (ha) per calendar year inside ``mask``."""
    if source == "vt0007_density":
        per_year = float(np.asarray(risk.risk_ha_per_year)[mask].sum(dtype=np.float64))
        return {y: per_year for y in years}
    year_map = np.asarray(baseline.allocation.year_map)  # spilled by the baseline stage (stages.risk.build_baseline)
    sums = area_by_code(year_map, mask & (year_map > 0), landscape.grid.cell_area_ha(), max(years) + 1)
    return {y: float(sums[y]) if y < sums.size else 0.0 for y in years}


def prorated(annual: Mapping[int, float], period: MonitoringPeriod, what: str) -> float:
    """``annual`` (year → ha) pro-rated to the period by days; an InputError where a year is missing."""
    missing = [y for y in period.days_by_year() if y not in annual]
    if missing:
        raise InputError(f"the {what} is not known for {', '.join(map(str, missing))}, which the monitoring "
                         f"period {period.start} – {period.end} covers",
                         "choose monitoring periods inside the years of the forest data")
    return prorate_annual(annual, period)


def domain_estimate(assessment, samples, domain_at_sample: np.ndarray,
                    label_error_rate: float = 0.0) -> tuple[float, float] | None:
    """(area, SE) in ha of the sample-based loss inside a domain: the stratified total of each point's loss
    label in the domain, corrected for the labels' error rate (:mod:`icam.forest.label_errors`; Stehman 2014's
    estimate where the rate is 0), a stratum whose domain points all agree taking Jeffreys' variance
    (:func:`~icam.forest.label_errors.pure_strata_variance`); None where no sample point lies in the domain.
    The correction can take the area below 0: the caller clips it."""
    in_domain = np.asarray(domain_at_sample, dtype=bool)
    if not in_domain.any():
        return None
    strata = (samples["stratum"] if "stratum" in samples.columns else samples["map_class"]).to_numpy()
    is_loss = samples["ref_class"].to_numpy() == FOREST_LOSS
    y = corrected_loss(is_loss, in_domain, label_error_rate)
    floor = pure_strata_variance(is_loss, in_domain, strata, label_error_rate)
    return stratified_total(y, strata, assessment.strata_area_ha, floor)


@dataclass(frozen=True)
class _Sample:
    assessment: object
    table: object  # pandas DataFrame of the labelled sample
    rows: np.ndarray
    cols: np.ndarray
    label_error_rate: float


def read_samples(config: IcamConfig, landscape: Landscape, assessments) -> list[_Sample]:
    """The labelled samples of the [activity_data] assessments with their points' cells on the grid."""

    out = []
    for a, cfg in zip(assessments, config.activity_data.assessments if config.activity_data else ()):
        table = read_labels(cfg.samples, known_classes=set(CLASS_NAMES), map_extent=landscape.grid)
        if not {"x", "y"} <= set(table.columns):
            continue
        rows, cols = rowcol(landscape.grid.transform, table["x"].to_numpy(float), table["y"].to_numpy(float))
        out.append(_Sample(a, table, np.asarray(rows), np.asarray(cols), config.activity_data.label_error_rate))
    return out


def _best_sample(samples: Sequence[_Sample], period: MonitoringPeriod) -> _Sample | None:
    """The assessment whose loss years (start_year+1 … end_year) share the most days with the period."""
    days = period.days_by_year()

    def overlap(s: _Sample) -> int:
        return sum(d for y, d in days.items() if s.assessment.start_year < y <= s.assessment.end_year)

    best = max(samples, key=overlap, default=None)
    return best if best is not None and overlap(best) > 0 else None


@dataclass(frozen=True)
class Adjustment:
    """How a period's mapped loss in a domain becomes its error-adjusted estimate: observed = mapped × ratio,
    SE = mapped × ratio_se; ``source`` says which sample and domain gave them."""

    ratio: float
    ratio_se: float
    source: str
    sampled: bool

    @property
    def relative_se(self) -> float:
        """The estimate's relative SE (0 where the ratio is 0)."""
        return self.ratio_se / self.ratio if self.ratio > 0 else 0.0


def error_adjustment(samples: Sequence[_Sample], period: MonitoringPeriod,
                     domains: Sequence[tuple[str, np.ndarray, Mapping[int, float]]]) -> Adjustment:
    """The sample-based (Olofsson et al. 2014; Stehman 2014) adjustment of the mapped loss over ``period``.

    The assessment whose loss years share most days with the period gives, for the first of ``domains``
    (name, mask, mapped loss per year) that holds sample points and mapped loss, the ratio of the estimated
    (clipped at 0: the label errors' correction can take a domain with no loss label below it) to the mapped
    loss over the assessment's loss years and its SE; where no domain does, the assessment's whole-zone
    estimate. Without an assessment the pixel count stands, exact and flagged (``sampled`` False)."""
    best = _best_sample(samples, period)
    if best is None:
        return Adjustment(1.0, 0.0, "pixel count: no reference sample covers the period (flagged)", False)
    a = best.assessment
    for name, domain, mapped_by_year in domains:
        estimate = domain_estimate(a, best.table, domain[best.rows, best.cols], best.label_error_rate)
        mapped = sum(v for y, v in mapped_by_year.items() if a.start_year < y <= a.end_year)
        if estimate is not None and mapped > 0:
            area, se = estimate
            return Adjustment(max(area, 0.0) / mapped, se / mapped, f"{a.name}, error-adjusted estimate of the "
                              f"{name}" + ("" if area > 0 else " (at or below 0 after the label errors' correction)"),
                              True)
    e = a.estimate
    area, mapped = e.area_ha.get(FOREST_LOSS) or 0.0, a.mapped_area_ha.get(FOREST_LOSS) or 0.0
    if area > 0 and mapped > 0:
        return Adjustment(area / mapped, e.se_ha[FOREST_LOSS] / mapped, f"{a.name}, whole-zone estimate", True)
    return Adjustment(1.0, 0.0, f"{a.name}: no loss in the sample; the pixel count stands (flagged)", False)
