"""Placebos in time: a method run with fake start dates before the real one, where nothing was avoided, so
that its estimates there measure its own noise (docs/methods.md, "Counterfactual checks: placebos in time").

Source: the in-time placebo of Abadie, Diamond & Hainmueller 2015 (*American Journal of Political Science*
59:495–510, §4.2: the intervention reassigned to a date before it happened), as West et al. 2020 (*PNAS*
117:24188–24194) and the placebo evaluations of counterfactual methods for REDD+ use it. Each fake start s
keeps at least ``min_pre_years`` years before it inside the forest record, and its "after" years end the year
before the real start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PlaceboRun:
    """One fake start: the method's avoided loss (ha) over fake_start … last_year and its 90 % interval (None
    where the method could not estimate it)."""

    fake_start: int
    last_year: int
    pre_years: int
    avoided_ha: float | None
    ci90_ha: tuple[float, float] | None

    @property
    def covers_zero(self) -> bool | None:
        """Whether the interval holds 0, the placebo's truth (None without an estimate)."""
        return None if self.ci90_ha is None else self.ci90_ha[0] <= 0.0 <= self.ci90_ha[1]

    def to_dict(self) -> dict:
        return {"fake_start": self.fake_start, "last_year": self.last_year, "pre_years": self.pre_years,
                "avoided_ha": self.avoided_ha, "ci90_ha": None if self.ci90_ha is None else list(self.ci90_ha),
                "covers_zero": self.covers_zero}


def fake_starts(first_year: int, start_year: int, pre_years: int, min_pre_years: int = 2) -> list[tuple[int, int]]:
    """(fake start, its years before) for every fake start with at least ``min_pre_years`` years of record
    before it (the record starts at the end of ``first_year``), before ``start_year``."""
    out = []
    for s in range(first_year + 1 + min_pre_years, start_year):
        out.append((s, min(pre_years, s - 1 - first_year)))
    return out


def placebo_in_time(fit: Callable[[int, int, int], tuple[float | None, tuple[float, float] | None]],
                    first_year: int, start_year: int, pre_years: int, min_pre_years: int = 2) -> list[PlaceboRun]:
    """``fit(fake_start, last_year, pre_years) → (avoided ha, 90 % interval)``, each None where the method
    could not estimate, at every fake start."""
    return [placebo_run(s, start_year - 1, pre, *fit(s, start_year - 1, pre))
            for s, pre in fake_starts(first_year, start_year, pre_years, min_pre_years)]


def placebo_run(fake_start: int, last_year: int, pre_years: int, avoided_ha: float | None,
                ci90_ha: tuple[float, float] | None) -> PlaceboRun:
    """One fake start's run from a method's estimate and interval (either None where it could not estimate)."""
    return PlaceboRun(fake_start, last_year, pre_years, None if avoided_ha is None else float(avoided_ha),
                      None if ci90_ha is None else (float(ci90_ha[0]), float(ci90_ha[1])))


def summary(runs: list[PlaceboRun]) -> dict:
    """The placebos' share of intervals holding 0 and the spread of their estimates (the method's noise), over
    the runs the method could estimate."""
    estimated = [r for r in runs if r.avoided_ha is not None]
    estimates = np.array([r.avoided_ha for r in estimated])
    return {"runs": len(runs), "estimated": len(estimated),
            "share_covering_zero": float(np.mean([r.covers_zero for r in estimated])) if estimated else None,
            "sd_ha": float(estimates.std(ddof=1)) if len(estimated) > 1 else None,
            "runs_detail": [r.to_dict() for r in runs]}
