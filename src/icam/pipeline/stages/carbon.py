"""The project's carbon accounting from its configuration, landscape, risk map and baseline, and the
issuance of its credits into the project's ledger (docs/methods.md, "Accounting in the pipeline").

Per forest stratum s (``[[carbon.strata]]``, placed by the ranges of ``strata_raster``; one
stratum ``forest`` without strata):

- stock: from the tree inventory's plots of s (:mod:`icam.carbon.inventory`), else the entered
  stock, else the IPCC default AGB (flagged); emission factor EF_s = (C_s − C_post) × 44/12;
- baseline per calendar year in the project area and the leakage belt, by ``methodology``: the
  VT0007 density map summed over zone ∩ s (ha/yr, the same every year: ``"VM0048"``), the pixels
  VM0015's allocation deforests in zone ∩ s that year (``"VM0015"``), or the dynamic baseline from
  the control area (``"dynamic"``, :mod:`icam.pipeline.stages.carbon_dynamic`), fitted to the
  sample-adjusted losses, so already in the units of the error-adjusted observed loss;
- observed loss per calendar year in zone ∩ s from the forest map; a monitoring period takes
  Σ_y A_y × d_y / days_in_year(y) over the calendar years y it touches (d_y its days in y);
- the observed loss: the mapped loss × the ratio of the sample-based estimate of the loss in the zone
  (Stehman 2014, the domain's indicator, corrected for label errors and clipped at 0) to its mapped loss
  over the activity-data assessment whose years overlap the period most, and its SE the mapped loss ×
  the estimate's SE over the mapped loss (:func:`icam.pipeline.stages.carbon_activity.error_adjustment`).

Then :func:`icam.carbon.accounting.ex_post_table` with the ``[carbon]`` uncertainty rule, market
leakage and buffer (entered, or scored by the AFOLU Non-Permanence Risk Tool from
``[carbon.non_permanence_risk]``), and the ex-ante table of the crediting period.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from icam.carbon.accounting import AccountingTable, PeriodInputs, StratumActivity, ex_ante_table, ex_post_table
from icam.carbon.buffer import BufferResult, assess
from icam.carbon.crediting import crediting_uncertainty
from icam.carbon.eligibility import explain
from icam.carbon.emissions import CarbonStock, EmissionFactor, emission_factor
from icam.carbon.inventory import read_tree_inventory, stocks_from_inventory
from icam.carbon.periods import MonitoringPeriod, prorate_annual
from icam.carbon.stocks import StratumStock, ipcc_default_stock
from icam.carbon.uncertainty import ART_TREES_2_0, EXCESS_OVER_THRESHOLD, VCS_MR_4_4, UncertaintyResult
from icam.carbon.wood_density import WoodDensityTable
from icam.core.errors import InputError
from icam.landscape import Landscape
from icam.landscape.raster import read_onto_grid
from icam.pipeline.config import CarbonSection, CarbonStratum, IcamConfig
from icam.pipeline.stages.carbon_activity import (
    Adjustment,
    annual_loss_ha,
    error_adjustment,
    prorated,
    read_samples,
)
from icam.pipeline.stages.carbon_dynamic import DynamicZone, control_mask, dynamic_baselines, historical_years
from icam.pipeline.stages.renewal import BaselineVersion, annual_by_version, period_baselines, version
from icam.pipeline.stages.risk import zone_mask

SINGLE_STRATUM = "forest"
ENTERED = "entered"
UNCERTAINTY_RULES = {"vcs": VCS_MR_4_4, "excess_over_10": EXCESS_OVER_THRESHOLD, "art_trees_2_0": ART_TREES_2_0}
ZONES = ("project_area", "leakage_belt")
# the results.json record of each methodology's baseline
BASELINE_SOURCES = {"VM0015": "vm0015_allocation", "VM0048": "vt0007_density", "dynamic": "matched_controls"}


@dataclass(frozen=True, eq=False)
class Stratum:
    """One forest stratum: its pixels, its stock record and its emission factor."""

    name: str
    mask: np.ndarray
    stock: dict
    emission_factor: EmissionFactor


@dataclass(frozen=True, eq=False)
class ProjectAccounting:
    """The accounting stage's result: the ex-post and ex-ante tables and what they were built from."""

    ex_post: AccountingTable
    ex_ante: AccountingTable | None
    strata: tuple[Stratum, ...]
    baseline_source: str
    baseline_valid_years: tuple[int, int]
    buffer_pct: float
    buffer_source: str
    buffer_assessment: BufferResult | None
    rule_name: str
    project_forest_ha: dict[str, float] = field(default_factory=dict)
    observed_se_notes: tuple[str, ...] = ()
    areas_by_year: tuple[dict, ...] = ()  # per calendar year and stratum: baseline and mapped loss, ha
    dynamic: tuple[DynamicZone, ...] = ()  # methodology "dynamic": each zone's k and matching balance
    eligibility: tuple[dict | None, ...] = ()  # per ex-post period: icam.carbon.eligibility.explain where ineligible
    baselines: tuple[dict, ...] = ()  # VM0015/VM0048: the first baseline and its renewals (valid years, fit)
    crediting_uncertainty: UncertaintyResult | None = None  # Σ NER over the periods, one Monte Carlo

    def beyond_validity(self, end: dt.date) -> bool:
        """The period ends after the last year of the baseline's validity (the baseline is due for reassessment)."""
        return end.year > self.baseline_valid_years[1]

    def to_dict(self, config: IcamConfig) -> dict:
        carbon = config.carbon
        periods = []
        for i, p in enumerate(self.ex_post.periods):
            row = p.details()
            row["baseline_beyond_validity"] = self.beyond_validity(p.end)
            row["uncertainty"]["eligibility"] = self.eligibility[i] if i < len(self.eligibility) else None
            periods.append(row)
        return {
            "project_id": carbon.project_id,
            "kind": self.ex_post.kind,
            "methodology": carbon.methodology,
            "baseline_source": self.baseline_source,
            "baseline_valid_years": list(self.baseline_valid_years),
            "baseline_multiplier": carbon.baseline_multiplier,
            "post_deforestation_class": carbon.post_deforestation_class,
            "uncertainty_rule": UNCERTAINTY_RULES[carbon.uncertainty_rule].to_dict(),
            "buffer": {"pct": self.buffer_pct, "source": self.buffer_source,
                       "assessment": self.buffer_assessment.to_dict() if self.buffer_assessment else None},
            "stocks": [{**s.stock, "project_forest_ha": self.project_forest_ha.get(s.name, 0.0)} for s in self.strata],
            "emission_factors": [s.emission_factor.to_dict() for s in self.strata],
            "observed_se_notes": list(self.observed_se_notes),
            "periods": periods,
            "areas_by_year": [dict(row) for row in self.areas_by_year],
            "dynamic_baseline": [z.to_dict() for z in self.dynamic],
            "baselines": list(self.baselines),
            "totals": {**self.ex_post.totals, "uncertainty": (self.crediting_uncertainty.to_dict()
                                                               if self.crediting_uncertainty else None)},
            "ex_ante": self.ex_ante.to_dict() if self.ex_ante is not None else None,
        }


# --------------------------------------------------------------------------- strata and stocks

def carbon_input_files(config: IcamConfig) -> list[Path]:
    """The files ``[carbon]`` names (inventory, wood-density table, strata raster)."""
    carbon = config.carbon
    if carbon is None:
        return []
    files = {"carbon.inventory": carbon.inventory, "carbon.wood_density": carbon.wood_density,
             "carbon.strata_raster": carbon.strata_raster}
    for key, path in files.items():
        if path is not None and not path.is_file():
            raise InputError(f"{key} = {str(path)!r}: no such file", "check the path (relative to icam.toml)")
    return [p for p in files.values() if p is not None]


def strata_config(carbon: CarbonSection) -> list[CarbonStratum]:
    """The strata of ``[carbon]``, in its order (one stratum of the forest's stock where none are named)."""
    if carbon.strata:
        return list(carbon.strata)
    return [CarbonStratum(name=SINGLE_STRATUM, stock=carbon.forest)]


def _inventory_stocks(carbon: CarbonSection, strata: Sequence[CarbonStratum]) -> dict[str, StratumStock]:
    if carbon.inventory is None:
        return {}

    table = WoodDensityTable.from_csv(carbon.wood_density) if carbon.wood_density is not None else None
    return stocks_from_inventory(read_tree_inventory(carbon.inventory),
                                 strata={s.name: s.root_to_shoot for s in strata}, wood_density=table,
                                 region=carbon.wood_density_region, carbon_fraction=carbon.carbon_fraction,
                                 n_draws=carbon.inventory_draws, seed=carbon.seed)


def _pairs_from_stock(stock: StratumStock) -> dict[str, tuple[float, float]]:
    """Pools of a biomass-based stock (tC/ha). Below-ground is R × above-ground, so the two errors are one:
    the whole standard error is carried by the above-ground pool, and their quadrature sum stays exact."""
    cf = stock.carbon_fraction
    se = 0.0 if math.isnan(stock.se_tc_ha) else stock.se_tc_ha
    return {"above_ground": (stock.agb_mg_ha * cf, se), "below_ground": (stock.bgb_mg_ha * cf, 0.0)}


def stratum_stocks(config: IcamConfig) -> list[tuple[CarbonStratum, CarbonStock, dict]]:
    """Each stratum's carbon stock per pool and its record for the report (source, plots, SE, CI)."""
    carbon = config.carbon
    strata = strata_config(carbon)
    from_plots = _inventory_stocks(carbon, strata)
    out = []
    for s in strata:
        if s.name in from_plots:
            record = from_plots[s.name]
            pairs = _pairs_from_stock(record)
            row = record.to_dict()
        elif s.stock is not None:
            pairs = s.stock
            row = _entered_record(s, carbon)
        elif s.ipcc_default_agb_mg_ha is not None:
            record = ipcc_default_stock(s.name, agb_mg_ha=s.ipcc_default_agb_mg_ha[0], root_to_shoot=s.root_to_shoot,
                                        reference=s.ipcc_reference or "IPCC default (reference not given)",
                                        carbon_fraction=carbon.carbon_fraction,
                                        agb_se_mg_ha=s.ipcc_default_agb_mg_ha[1])
            pairs = _pairs_from_stock(record)
            row = record.to_dict()
        else:
            raise InputError(f"carbon.strata {s.name!r} has no plots in {carbon.inventory}, no stock and no IPCC "
                             "default", "add plots of this stratum, or give its stock or ipcc_default_agb_mg_ha")
        unsupported = [p for p in carbon.pools if p not in pairs]
        if unsupported:
            raise InputError(f"carbon.pools counts {', '.join(unsupported)} but stratum {s.name!r} takes its stock "
                             f"from {row['source']}, which gives above- and below-ground biomass only",
                             "enter the stratum's stock per pool, or count above_ground and below_ground only")
        out.append((s, CarbonStock.from_pairs(s.name, {p: pairs[p] for p in carbon.pools}), row))
    return out


def _entered_record(s: CarbonStratum, carbon: CarbonSection) -> dict:
    total = sum(s.stock[p][0] for p in carbon.pools)
    se = math.sqrt(sum(s.stock[p][1] ** 2 for p in carbon.pools))
    return {"stratum": s.name, "source": ENTERED, "n_plots": 0, "agb_mg_ha": None, "bgb_mg_ha": None,
            "carbon_tc_ha": total, "se_tc_ha": se, "ci95_low_tc_ha": total - 1.959964 * se,
            "ci95_high_tc_ha": total + 1.959964 * se, "co2e_tco2e_ha": total * 44 / 12, "reference": "icam.toml"}


STRATA_BAND_ROWS = 512  # rows of the strata raster compared at once


def stratum_masks(config: IcamConfig, landscape: Landscape, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Each stratum's cells: the ranges of ``strata_raster`` (the whole grid for a single stratum)."""
    carbon = config.carbon
    if carbon.strata_raster is None:
        return {names[0]: np.ones(landscape.grid.shape, dtype=bool)}

    values = read_onto_grid(carbon.strata_raster, landscape.grid, what="carbon.strata_raster",
                            allow_reproject=True, categorical=False)
    data, valid = np.ma.getdata(values), ~np.ma.getmaskarray(values)
    masks = {s.name: np.empty(landscape.grid.shape, dtype=bool) for s in carbon.strata}
    # the ranges compared in float64, a band of rows at a time (a float64 copy of a jurisdiction's raster is 0.5 GB)
    for lo in range(0, data.shape[0], STRATA_BAND_ROWS):
        band, ok = np.asarray(data[lo:lo + STRATA_BAND_ROWS], dtype=np.float64), valid[lo:lo + STRATA_BAND_ROWS]
        for s in carbon.strata:
            masks[s.name][lo:lo + STRATA_BAND_ROWS] = ok & (band >= s.range[0]) & (band < s.range[1])
    covered = np.zeros(landscape.grid.shape, dtype=bool)
    for m in masks.values():
        covered |= m
    zones = landscape.zones.masks()
    forest = landscape.forest.forest_in(landscape.forest.epochs[0]) & landscape.forest.valid
    for zone in ZONES:
        if zone in zones:
            left = int(np.count_nonzero(zones[zone] & forest & ~covered))
            if left:
                raise InputError(f"carbon.strata_raster: {left:,} forest cells of the {zone.replace('_', ' ')} fall "
                                 "in no stratum's range (or have no data)",
                                 "widen the strata ranges so they cover every value of the raster there")
    return masks


# --------------------------------------------------------------------------- accounting

def _buffer(carbon: CarbonSection) -> tuple[float | BufferResult, float, str, BufferResult | None]:
    if carbon.non_permanence_risk is None:
        return float(carbon.buffer_pct), float(carbon.buffer_pct), "entered in icam.toml", None
    result = assess(carbon.non_permanence_risk)
    if not result.passes:
        raise InputError(f"carbon.non_permanence_risk: the project fails the {result.tool_version} "
                         f"({'; '.join(result.reasons)})", "no credits can be issued until the failure is resolved")
    return result, float(result.buffer_pct), result.tool_version, result


def crediting_period(config: IcamConfig) -> MonitoringPeriod:
    """The crediting period: from the project start for ``crediting_period_years`` years."""
    start = config.periods.project_start
    years = config.periods.crediting_period_years
    try:
        end = start.replace(year=start.year + years) - dt.timedelta(days=1)
    except ValueError:  # 29 February
        end = dt.date(start.year + years, 3, 1) - dt.timedelta(days=1)
    return MonitoringPeriod(start, end)


def _check_ready(config: IcamConfig, landscape: Landscape, baseline) -> None:
    if config.carbon is None or config.periods is None or not config.periods.monitoring:
        raise InputError("the carbon accounting needs [carbon] and [periods] monitoring")
    if baseline is None:
        raise InputError("the carbon accounting needs the baseline ([baseline])")
    if "project_area" not in landscape.zones.masks():
        raise InputError("the carbon accounting needs boundaries.project_area")
    if config.periods.project_start is None:
        raise InputError("the carbon accounting needs periods.project_start")


def _historical_adjustments(config: IcamConfig, samples, zones: Mapping[str, np.ndarray],
                            zone_loss: Mapping[str, Mapping[int, float]]) -> dict[str, Adjustment]:
    """Each zone's sample-based adjustment of its mapped loss over the historical reference period, which
    puts the dynamic baseline's k (so the baseline) in the same units as the error-adjusted monitored loss."""
    years = historical_years(config)
    if not years:  # the dynamic fit refuses an empty historical period in one line
        return {}
    hrp = MonitoringPeriod(dt.date(years[0], 1, 1), dt.date(years[-1], 12, 31))
    return {z: error_adjustment(samples, hrp, [(z.replace("_", " "), mask, zone_loss[z])])
            for z, mask in zones.items()}


def _control_ratios(config: IcamConfig, landscape: Landscape, samples) -> dict[int, float]:
    """Per loss year of the forest data: the sample's adjustment of the dynamic baseline's control area's mapped
    loss (from the assessment that holds the year; 1 where none does)."""
    control = control_mask(config, landscape)
    mapped = annual_loss_ha(landscape, control)
    return {y: error_adjustment(samples, MonitoringPeriod(dt.date(y, 1, 1), dt.date(y, 12, 31)),
                                [("control area", control, mapped)]).ratio for y in mapped}


def account_project(config: IcamConfig, landscape: Landscape, risk, baseline,
                    assessments: Sequence = (), renewed: Sequence[BaselineVersion] = ()) -> ProjectAccounting:
    """The ex-post table of every monitoring period and the ex-ante table (module docstring); ``renewed``: the
    baselines renewed after the first's validity (:mod:`icam.pipeline.stages.renewal`)."""

    _check_ready(config, landscape, baseline)
    carbon = config.carbon
    post = CarbonStock.from_pairs(carbon.post_deforestation_class, carbon.post_deforestation)
    stocks = stratum_stocks(config)
    masks = stratum_masks(config, landscape, [s.name for s, _, _ in stocks])
    risk_zone = zone_mask(landscape, config.risk.zone, "risk.zone")
    zone_masks = landscape.zones.masks()
    zones = {z: zone_masks[z] & risk_zone for z in zone_masks if z in ZONES}
    credit = crediting_period(config)
    periods = [MonitoringPeriod(p.start, p.end) for p in config.periods.monitoring]
    years = sorted({y for p in periods + [credit] for y in p.days_by_year()})
    forest_start = landscape.forest.forest_in(landscape.forest.epochs[0])
    area = np.broadcast_to(landscape.grid.cell_area_ha(), landscape.grid.shape)

    strata, annual, baseline_se = [], {}, {}
    samples = read_samples(config, landscape, assessments)
    zone_loss = {z: annual_loss_ha(landscape, m) for z, m in zones.items()}
    dynamic = {}
    if carbon.methodology == "dynamic":
        dynamic = dynamic_baselines(config, landscape, zones, masks, years,
                                    _historical_adjustments(config, samples, zones, zone_loss),
                                    _control_ratios(config, landscape, samples))
    source = BASELINE_SOURCES[carbon.methodology]
    versions = () if dynamic else (version(config, risk, baseline), *renewed)
    factor = carbon.baseline_multiplier  # 1 but in tests of the counterfactual checks
    for s, stock, record in stocks:
        strata.append(Stratum(s.name, masks[s.name], record, emission_factor(stock, post, carbon.pools)))
        for z, zmask in zones.items():
            m = zmask & masks[s.name]
            if dynamic:
                base, baseline_se[(s.name, z)] = dynamic[z].baseline_ha[s.name], dynamic[z].se_ha[s.name]
                baseline_se[(s.name, z)] = {y: v * factor for y, v in baseline_se[(s.name, z)].items()}
            else:
                base = annual_by_version(source, versions, landscape, m, years)
            annual[(s.name, z)] = ({y: v * factor for y, v in base.items()}, annual_loss_ha(landscape, m))
    valid_years = _valid_years(config, landscape, versions, periods)
    buffer, buffer_pct, buffer_source, assessment = _buffer(carbon)
    rule = UNCERTAINTY_RULES[carbon.uncertainty_rule]
    inputs, notes = [], []
    for period in periods:
        activity = []
        for s in strata:
            values = {}
            for z in ZONES:
                if z not in zones:
                    values[z] = (0.0, 0.0, 0.0, 0.0)
                    continue
                base, observed = annual[(s.name, z)]
                label = z.replace("_", " ")
                # one ratio per zone, not per zone and stratum: a stratum's few loss points in a small
                # project give a ratio too noisy to use (a map's error is taken as the same across strata)
                adj = error_adjustment(samples, period, [(label, zones[z], zone_loss[z])])
                mapped = prorated(observed, period, "forest loss")
                obs = mapped * adj.ratio
                base_ha, base_se = prorate_annual(base, period), 0.0
                if dynamic:  # already error-adjusted (k from the sample's estimate of the historical loss);
                    # its SE is the years' SEs summed (the years share k's error)
                    base_se = prorate_annual(baseline_se[(s.name, z)], period)
                values[z] = (base_ha, obs, mapped * adj.ratio_se, base_se)
                notes.append(f"{period.start} – {period.end}, {s.name}, {z}: mapped × ({adj.ratio:.3f} ± "
                             f"{adj.ratio_se:.3f}) ({adj.source})")
            activity.append(StratumActivity(
                s.name, baseline_project_ha=values["project_area"][0], observed_project_ha=values["project_area"][1],
                observed_project_se_ha=values["project_area"][2], baseline_belt_ha=values["leakage_belt"][0],
                observed_belt_ha=values["leakage_belt"][1], observed_belt_se_ha=values["leakage_belt"][2],
                baseline_project_se_ha=values["project_area"][3], baseline_belt_se_ha=values["leakage_belt"][3]))
        valid, name = _period_baseline(config, versions, valid_years, period)
        inputs.append(PeriodInputs(period=period, strata=tuple(activity), emission_factors=_factors(strata),
                                   buffer=buffer, market_leakage_factor=carbon.market_leakage_factor,
                                   baseline=name, baseline_valid=valid))
    ex_post = ex_post_table(inputs, rule, n_draws=carbon.uncertainty_draws, seed=carbon.seed)
    eligibility = _eligibility(inputs, ex_post, rule, carbon)
    total_uncertainty = crediting_uncertainty(inputs, rule, n_draws=carbon.uncertainty_draws, seed=carbon.seed)
    ex_ante = None
    if carbon.ex_ante_effectiveness is not None:
        ex_ante = ex_ante_table(
            credit, {s.name: annual[(s.name, "project_area")][0] for s in strata}, _factors(strata),
            effectiveness=carbon.ex_ante_effectiveness, buffer=buffer,
            baseline_belt_ha_by_year=({s.name: annual[(s.name, "leakage_belt")][0] for s in strata}
                                      if "leakage_belt" in zones else None),
            market_leakage_factor=carbon.market_leakage_factor, rule=rule,
            n_draws=carbon.uncertainty_draws, seed=carbon.seed)
    project_forest = {s.name: float(area[zones["project_area"] & s.mask & forest_start].sum()) for s in strata}
    return ProjectAccounting(ex_post=ex_post, ex_ante=ex_ante, strata=tuple(strata),
                             baseline_source=source, dynamic=tuple(dynamic.values()),
                             baseline_valid_years=valid_years,
                             buffer_pct=buffer_pct, buffer_source=buffer_source, buffer_assessment=assessment,
                             rule_name=rule.name, project_forest_ha=project_forest, observed_se_notes=tuple(notes),
                             areas_by_year=_areas_by_year(annual, [s.name for s in strata], years),
                             eligibility=eligibility, crediting_uncertainty=total_uncertainty,
                             baselines=tuple(v.to_dict(carbon.methodology) for v in versions))


def _eligibility(inputs: Sequence[PeriodInputs], ex_post, rule, carbon: CarbonSection) -> tuple[dict | None, ...]:
    """For each period whose half-width exceeds the rule's limit: each source's half-width alone and the
    reference sample's size that would make it eligible (:mod:`icam.carbon.eligibility`)."""
    limit = rule.ineligible_above_pct
    by_start = {i.period.start: i for i in inputs}
    return tuple(explain(by_start[r.start], rule, n_draws=carbon.uncertainty_draws, seed=carbon.seed)
                 if limit is not None and not r.uncertainty.half_width_pct <= limit else None
                 for r in ex_post.periods)


def _areas_by_year(annual: Mapping[tuple[str, str], tuple[dict, dict]], strata: Sequence[str],
                   years: Sequence[int]) -> tuple[dict, ...]:
    """Per calendar year and stratum: the baseline deforestation and the mapped loss (ha; the periods' observed
    loss is this, error-adjusted by the reference samples) in the project area and the leakage belt (None where
    the forest data end before the year or the zone is not configured)."""
    rows = []
    for year in years:
        for name in strata:
            row = {"year": int(year), "stratum": name}
            for zone, short in (("project_area", "project"), ("leakage_belt", "belt")):
                base, observed = annual.get((name, zone), ({}, {}))
                row[f"baseline_{short}_ha"] = base.get(year)
                row[f"mapped_{short}_ha"] = observed.get(year)
            rows.append(row)
    return tuple(rows)


def _factors(strata: Sequence[Stratum]) -> dict[str, EmissionFactor]:
    return {s.name: s.emission_factor for s in strata}


def _period_baseline(config: IcamConfig, versions: Sequence[BaselineVersion], valid_years: tuple[int, int],
                     period: MonitoringPeriod) -> tuple[bool, str]:
    """Whether the period has a valid baseline for every year, and the baseline(s) it is measured against,
    as the report and results.json name them."""
    if config.carbon.methodology != "dynamic":
        return period_baselines(list(period.days_by_year()), versions, config.carbon.methodology)
    first, last = config.periods.historical_reference
    return period.end.year <= valid_years[1], (
        f"dynamic baseline from the control area, scaled on {first}–{last}, re-estimated every year "
        f"({valid_years[0]}–{valid_years[1]})")


def _valid_years(config: IcamConfig, landscape: Landscape, versions: Sequence[BaselineVersion],
                 periods: Sequence[MonitoringPeriod]) -> tuple[int, int]:
    """The years a baseline may be used for: the dynamic one is re-estimated for every year the forest data
    cover, the others hold from the first one's validity to the last renewal's."""
    if config.carbon.methodology == "dynamic":
        return min(p.start.year for p in periods), int(landscape.forest.epochs[-1])
    return versions[0].valid_years[0], versions[-1].valid_years[1]


# --------------------------------------------------------------------------- tables and the ledger

def accounting_rows(accounting: ProjectAccounting) -> dict[str, list[dict]]:
    """CSV tables: periods (hectares beside the tonnes), periods by stratum, years by stratum (hectares),
    vintages, stocks, and the ex-ante table."""
    keys = ("baseline_emissions_tco2e", "project_emissions_tco2e", "activity_shifting_leakage_tco2e",
            "market_leakage_tco2e", "leakage_tco2e", "net_reductions_tco2e", "uncertainty_deduction_tco2e",
            "buffer_tco2e", "buffer_credits", "credits")

    def period_row(p) -> dict:
        d = p.details()
        return {"start": d["start"], "end": d["end"], **d["areas_ha"], **{k: d[k] for k in keys},
                "uncertainty_half_width_pct": d["uncertainty"]["half_width_pct"], "buffer_pct": d["buffer_pct"]}

    def stratum_rows(p) -> list[dict]:
        return [{"period_start": p.start.isoformat(), "period_end": p.end.isoformat(), "stratum": name, **values}
                for name, values in p.by_stratum.items()]

    tables = {
        "tables/accounting_periods.csv": [period_row(p) for p in accounting.ex_post.periods],
        "tables/accounting_strata.csv": [row for p in accounting.ex_post.periods for row in stratum_rows(p)],
        "tables/accounting_years.csv": [dict(row) for row in accounting.areas_by_year],
        "tables/accounting_vintages.csv": [{"period_start": p.start.isoformat(), "period_end": p.end.isoformat(),
                                            **v.to_dict()} for p in accounting.ex_post.periods for v in p.vintages],
        "tables/carbon_stocks.csv": [{**s.stock, "ef_tco2e_ha": s.emission_factor.ef_tco2e_ha,
                                      "ef_se_tco2e_ha": s.emission_factor.se_tco2e_ha} for s in accounting.strata],
    }
    if accounting.ex_ante is not None:
        tables["tables/accounting_ex_ante.csv"] = [period_row(p) for p in accounting.ex_ante.periods]
    return tables
