"""The counterfactual checks' stage: the deforestation avoided inside the project by pixel matching and by a
synthetic control (each with its placebos in time), set against the baseline's avoided loss
(:mod:`icam.counterfactual`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from icam.carbon.periods import MonitoringPeriod
from icam.core.forked import map_shared
from icam.counterfactual.pixel_matching import PixelMatching
from icam.counterfactual.placebo import fake_starts, placebo_in_time, placebo_run, summary
from icam.counterfactual.synthetic_control import SyntheticControl
from icam.counterfactual.verdict import MethodEstimate, verdict, year_weights
from icam.landscape import Landscape
from icam.pipeline.config import CounterfactualSection, IcamConfig
from icam.pipeline.stages.carbon import ProjectAccounting, strata_config, stratum_masks
from icam.pipeline.stages.carbon_dynamic import shared_matching_landscape
from icam.pipeline.stages.risk import zone_mask
from icam.risk.matching_landscape import MatchingLandscape

# the methods the baseline of each methodology rests on: a check cannot confirm what it shares
SHARED_WITH_BASELINE = {"dynamic": ("pixel_matching",)}


def pixel_matching(section: CounterfactualSection, pre_years: int | None = None,
                   iterations: int | None = None) -> PixelMatching:
    """The estimator with ``[counterfactual]``'s parameters."""
    return PixelMatching(density_per_ha=section.density_per_ha, pool_ratio=section.pool_ratio,
                         iterations=iterations or section.iterations, pre_years=pre_years or section.pre_years,
                         calipers={"elevation_km": section.elevation_caliper_m / 1000.0,
                                   "slope_deg": section.slope_caliper_deg},
                         caliper_sd=section.caliper_sd, smd_max=section.smd_max, seed=section.seed)


def baseline_avoided_ha(accounting: ProjectAccounting) -> float:
    """The baseline's avoided loss in the project area over the monitoring periods: Σ (baseline − observed)."""
    return float(sum(p.areas_ha.get("baseline_project_ha", 0.0) - p.areas_ha.get("observed_project_ha", 0.0)
                     for p in accounting.ex_post.periods))


def _fit_matching(shared: tuple, section: CounterfactualSection, start: int, last: int, pre_years: int,
                  iterations: int, weights: dict[int, float] | None) -> PixelMatching:
    """One pixel-matching fit on the shared (landscape, project, groups, pairings): a task of
    :func:`map_shared`. The fits run in one process share their pairings (pairs formed in the same year)."""
    land, project, groups, pairings = shared
    return pixel_matching(section, pre_years, iterations).fit(land, project, start, last, groups, weights,
                                                                pairings)


def matching_estimate(section: CounterfactualSection, land: MatchingLandscape, project: np.ndarray,
                      groups: np.ndarray | None, start: int, last: int, weights: dict[int, float],
                      progress: Callable[[str], None] | None = None) -> MethodEstimate:
    """Pixel matching's avoided loss over the monitoring periods (``weights``: each year's share in them),
    with its diagnostics and, where asked, its placebos in time. The estimate and its placebos are
    independent fits on one landscape: they run on every core, in forked processes (:mod:`icam.core.forked`),
    the estimate, the longest, first."""
    if progress:
        progress("counterfactual: pixel matching")
    starts = fake_starts(land.first_year, start, section.pre_years) if section.placebo_in_time else []
    tasks = [(section, start, last, section.pre_years, section.iterations, weights)]
    tasks += [(section, s, start - 1, pre, section.placebo_iterations, None) for s, pre in starts]

    def done(task) -> None:
        if progress and task[1] != start:
            progress(f"counterfactual: placebo in time, start {task[1]}")

    est, *placebos = map_shared(_fit_matching, (land, project, groups, {}), tasks, on_done=done)
    diagnostics = {"identified": est.identified_, "losses_among_pairs": est.losses_, "min_losses": est.min_losses,
                   "relative_hazard_k": est.k_, "parallel_trends": est.parallel_trends_, "balance": est.balance_,
                   "balanced": all(not row["flagged"] for row in est.balance_), "pairs": est.pairs_,
                   "match_rate": est.match_rate_}
    if section.placebo_in_time:
        runs = [placebo_run(s, start - 1, pre, p.avoided_ha_, p.ci90_ha_) for (s, pre), p in zip(starts, placebos)]
        diagnostics["placebo_in_time"] = summary(runs)
    annual = {y: {"project_ha": a["project_ha"], "counterfactual_ha": a.get("counterfactual_ha")}
              for y, a in est.annual_.items()}
    return MethodEstimate("pixel_matching", est.avoided_ha_, est.ci90_ha_, annual, diagnostics)


def synthetic_estimate(section: CounterfactualSection, land: MatchingLandscape, project: np.ndarray, start: int,
                       last: int, weights: dict[int, float],
                       progress: Callable[[str], None] | None = None) -> MethodEstimate:
    """The synthetic control's avoided loss over the monitoring periods, its placebos in space (in its
    interval and p-value) and, where asked, in time."""
    if progress:
        progress("counterfactual: synthetic control")

    def control() -> SyntheticControl:
        return SyntheticControl(donor_share=section.donor_share, min_forest_share=section.donor_min_forest_share,
                                weights=section.synthetic_weights)

    panel = control().panel(land, project, last)  # the donors and their series, shared by every fit below
    sc = control().fit(land, project, start, last, weights, panel=panel)
    diagnostics = {"identified": sc.avoided_ha_ is not None, "donors": sc.n_donors_, "min_donors": sc.min_donors,
                   "weights_rule": sc.weights, "penalty": sc.penalty_,
                   "weights": {str(d): w for d, w in sc.weights_.items()}, "p_value": sc.p_value_,
                   "pre_rmspe": sc.pre_rmspe_, "relative_se": sc.relative_se_,
                   "validation_gaps": sc.validation_gaps_, "placebo_in_space_gaps": sc.placebo_gaps_}
    if section.placebo_in_time:
        def fit(fake_start: int, fake_last: int, pre: int):
            placebo = control().fit(land, project, fake_start, fake_last, panel=panel)
            return placebo.avoided_ha_, placebo.ci90_ha_

        diagnostics["placebo_in_time"] = summary(placebo_in_time(fit, land.first_year, start, section.pre_years))
    annual = {y: {"project_ha": a["project_ha"], "counterfactual_ha": a["counterfactual_ha"]}
              for y, a in sc.annual_.items()}
    return MethodEstimate("synthetic_control", sc.avoided_ha_, sc.ci90_ha_, annual, diagnostics)


def estimate_counterfactual(config: IcamConfig, landscape: Landscape,
                            progress: Callable[[str], None] | None = None) -> list[MethodEstimate]:
    """Each method's estimate of the deforestation avoided inside the project over the monitoring periods. It
    needs the landscape, the carbon strata and the periods, not the baseline: the run computes it beside
    the risk and accounting stages (:class:`icam.pipeline.runner.Stage`'s ``background``)."""
    section = config.counterfactual
    names = [s.name for s in strata_config(config.carbon)]
    land = shared_matching_landscape(config, landscape, lambda: stratum_masks(config, landscape, names),
                                     last_use=False)
    project = landscape.zones.masks()["project_area"] & zone_mask(landscape, config.risk.zone, "risk.zone")
    # the accounting's periods, in its order (by start): the weights sum their days alike
    monitoring = sorted(config.periods.monitoring, key=lambda p: p.start)
    weights = year_weights([MonitoringPeriod(p.start, p.end) for p in monitoring])
    start, last = config.periods.project_start.year, int(landscape.forest.epochs[-1])
    return [matching_estimate(section, land, project, landscape.zones.admin_id, start, last, weights, progress),
            synthetic_estimate(section, land, project, start, last, weights, progress)]


def check_counterfactual(config: IcamConfig, estimates: list[MethodEstimate], accounting: ProjectAccounting) -> dict:
    """``results.json["counterfactual"]``: each method's estimate and the verdict on the baseline."""
    shared = SHARED_WITH_BASELINE.get(config.carbon.methodology, ())
    return {"methods": {e.name: e.to_dict() for e in estimates},
            **verdict(baseline_avoided_ha(accounting), estimates, shared,
                      config.counterfactual.over_crediting_margin)}
