"""The project's ex-post accounting from its configuration, landscape and baseline, and the
issuance of its credits into the project's ledger.

Per monitoring period P of ``[periods] monitoring`` (docs/methods.md, "Accounting in the pipeline"):

- baseline, project area: ``prorate_annual`` of the baseline's VM0015 allocation in the project
  area (``Baseline.by_zone_vm0015["project_area"]``), a year outside the baseline years counting 0;
- observed, project area: the mapped forest loss in the project area in each calendar year y the
  period touches, pro-rated by the period's days in y: Σ_y loss_y × d_y / days_in_year(y). Its
  standard error is taken as 0: the sample-based estimate of the project area's loss is not
  wired in yet (the activity-data stage estimates the reference region);
- leakage belt: the same two quantities in the leakage belt (0 where no belt is configured);
- one forest stratum, ``"forest"``, with the emission factor of ``[carbon]`` forest →
  post-deforestation stocks over the counted pools (:func:`icam.carbon.emissions.emission_factor`);
- buffer: ``[carbon] buffer_pct``; uncertainty: :data:`icam.carbon.accounting.EXCESS_OVER_THRESHOLD`
  by Monte Carlo with ``[carbon] uncertainty_draws`` and ``seed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from icam.carbon.accounting import (EXCESS_OVER_THRESHOLD, AccountingTable, MonitoringPeriod, PeriodInputs,
                                    StratumActivity, ex_post_table, prorate_annual)
from icam.carbon.emissions import CarbonStock, EmissionFactor, emission_factor
from icam.config import IcamConfig
from icam.errors import InputError
from icam.landscape import Landscape

STRATUM = "forest"


def project_emission_factor(config: IcamConfig) -> EmissionFactor:
    """The emission factor of ``[carbon]``: forest → post-deforestation class, tCO2e/ha."""
    carbon = config.carbon
    forest = CarbonStock.from_pairs(STRATUM, carbon.forest)
    post = CarbonStock.from_pairs(carbon.post_deforestation_class, carbon.post_deforestation)
    return emission_factor(forest, post, carbon.pools)


def annual_loss_ha(landscape: Landscape, mask: np.ndarray) -> dict[int, float]:
    """Mapped forest loss (ha) per calendar year inside ``mask``; annual forest data only."""
    forest = landscape.forest
    if not forest.is_annual:
        raise InputError("the carbon accounting needs annual forest-loss data (one epoch per year)",
                         "use a Hansen, loss-year or yearly forest-map source")
    mask = mask & forest.valid
    area = np.broadcast_to(landscape.grid.cell_area_ha(), forest.shape)
    counts = np.bincount(forest.loss_period[mask].astype(np.intp), weights=area[mask], minlength=len(forest.epochs))
    # loss_period k = lost between epochs[k-1] and epochs[k]: the loss of calendar year epochs[k]
    return {int(year): float(counts[k]) for k, year in enumerate(forest.epochs) if k >= 1}


def _prorated(annual: Mapping[int, float], period: MonitoringPeriod, *, fill_zero: bool, what: str) -> float:
    years = period.days_by_year()
    if not fill_zero:
        missing = [y for y in years if y not in annual]
        if missing:
            raise InputError(f"the {what} is not known for {', '.join(map(str, missing))}, which the monitoring "
                             f"period {period.start} – {period.end} covers",
                             "choose monitoring periods inside the years of the forest data")
    return prorate_annual({y: annual.get(y, 0.0) for y in years}, period)


def account_project(config: IcamConfig, landscape: Landscape, baseline) -> AccountingTable:
    """The ex-post table of every monitoring period (module docstring for the inputs)."""
    from icam.risk.project import zone_mask

    carbon = config.carbon
    if carbon is None or config.periods is None or not config.periods.monitoring:
        raise InputError("the carbon accounting needs [carbon] and [periods] monitoring")
    if baseline is None:
        raise InputError("the carbon accounting needs the baseline ([baseline])")
    ef = project_emission_factor(config)
    masks = landscape.zones.masks()
    if "project_area" not in masks:
        raise InputError("the carbon accounting needs boundaries.project_area")
    project_loss = annual_loss_ha(landscape, zone_mask(landscape, "project_area", "boundaries.project_area"))
    belt_loss = (annual_loss_ha(landscape, zone_mask(landscape, "leakage_belt", "boundaries.leakage_belt"))
                 if "leakage_belt" in masks else {})
    base_project = baseline.by_zone_vm0015.get("project_area", {})
    base_belt = baseline.by_zone_vm0015.get("leakage_belt", {})
    inputs = []
    for p in config.periods.monitoring:
        period = MonitoringPeriod(p.start, p.end)
        stratum = StratumActivity(
            STRATUM,
            baseline_project_ha=_prorated(base_project, period, fill_zero=True, what="baseline"),
            observed_project_ha=_prorated(project_loss, period, fill_zero=False, what="forest loss"),
            observed_project_se_ha=0.0,
            baseline_belt_ha=_prorated(base_belt, period, fill_zero=True, what="baseline"),
            observed_belt_ha=(_prorated(belt_loss, period, fill_zero=False, what="forest loss")
                              if "leakage_belt" in masks else 0.0),
        )
        inputs.append(PeriodInputs(period=period, strata=(stratum,),
                                   emission_factors={STRATUM: (ef.ef_tco2e_ha, ef.se_tco2e_ha)},
                                   buffer=float(carbon.buffer_pct)))
    return ex_post_table(inputs, EXCESS_OVER_THRESHOLD, n_draws=carbon.uncertainty_draws, seed=carbon.seed)


def issue_credits(project_dir: Path, project_id: str, table: AccountingTable) -> list:
    """Issue each period's credits (≥ 1) into the project's ledger, in one transaction.

    A period already issued with the same credits and buffer is skipped (a rerun issues nothing);
    one issued with other figures is refused with an :class:`InputError` naming the period.
    Vintage: the period's last calendar year. Returns the new :class:`IssuanceRecord`s.
    """
    from icam import ledger
    from icam.store.db import open_engine, session

    due = [p for p in table.periods if p.credits >= 1]
    if not due:
        return []
    engine = open_engine(project_dir, create=True)
    issued = []
    try:
        with session(engine) as s:
            existing = {(r.period_start, r.period_end): r for r in ledger.issuances(s, project_id)}
            for p in due:
                old = existing.get((p.start, p.end))
                if old is not None:
                    if old.quantity == p.credits and old.buffer_quantity == p.buffer_credits:
                        continue
                    raise InputError(f"monitoring period {p.start} – {p.end} of {project_id} was issued with "
                                     f"{old.quantity:,} credits and {old.buffer_quantity:,} buffer credits; the "
                                     f"accounting now gives {p.credits:,} and {p.buffer_credits:,}",
                                     "an issued period is not reissued; correct it by cancelling credits "
                                     "(icam ledger) or restore the inputs it was issued from")
                issued.append(ledger.issue_period(s, project_id, p.start, p.end, vintage=p.vintages[-1].year,
                                                  credits=p.credits, buffer=p.buffer_credits))
    finally:
        engine.dispose()
    return issued
