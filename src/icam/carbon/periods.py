"""Monitoring periods and their days: the calendar arithmetic of the accounting (docs/methods.md, "Period,
pro-rating and vintages"). A period's end date is inclusive."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from icam.carbon.emissions import number
from icam.core.errors import InputError


def _as_date(value, what: str) -> date:
    if isinstance(value, date):
        return value if type(value) is date else date(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InputError(f"{what} must be a date (YYYY-MM-DD), got {value!r}")


@dataclass(frozen=True)
class MonitoringPeriod:
    """A monitoring (or crediting) period, ``start`` and ``end`` both inclusive."""

    start: date
    end: date

    def __post_init__(self) -> None:
        start, end = _as_date(self.start, "the period start"), _as_date(self.end, "the period end")
        if end < start:
            raise InputError(f"the period {start.isoformat()} – {end.isoformat()} ends before it starts")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def days_by_year(self) -> dict[int, int]:
        """Calendar year → days of the period in it; e.g. 2008-06-15 – 2012-06-14 gives
        {2008: 200, 2009: 365, 2010: 365, 2011: 365, 2012: 166}."""
        out = {}
        for y in range(self.start.year, self.end.year + 1):
            first, last = max(self.start, date(y, 1, 1)), min(self.end, date(y, 12, 31))
            out[y] = (last - first).days + 1
        return out

    def split_by_year(self) -> list[MonitoringPeriod]:
        """The period cut at each 1 January (one piece per calendar year)."""
        return [MonitoringPeriod(max(self.start, date(y, 1, 1)), min(self.end, date(y, 12, 31)))
                for y in range(self.start.year, self.end.year + 1)]

    def to_dict(self) -> dict:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "days": self.days}


def days_in_year(y: int) -> int:
    """365 or 366."""
    return (date(y + 1, 1, 1) - date(y, 1, 1)).days


def prorate_annual(annual_ha: Mapping[int, float], period: MonitoringPeriod) -> float:
    """Baseline area (ha) over ``period`` from annual values: Σ_y A_y × d_y / days_in_year(y),
    with d_y the period's days in calendar year y (365 or 366 days in the year). Every year the
    period touches must be given (e.g. ``ZoneBaseline.by_year[zone]`` or a year → ha mapping)."""
    total = 0.0
    for y, d in period.days_by_year().items():
        if y not in annual_ha:
            raise InputError(f"no annual baseline value for {y}, which the period "
                             f"{period.start.isoformat()} – {period.end.isoformat()} covers",
                             "give one value (ha) per calendar year of the period")
        total += number(annual_ha[y], f"the baseline deforestation of {y}", minimum=0.0) * d / days_in_year(y)
    return total


def split_whole(total: int, weights: Mapping[int, int]) -> dict[int, int]:
    """Split a whole number ``total`` by integer ``weights`` (year → days): each part floored,
    then the remainder one each to the largest remainders, ties to the later key. Σ = total."""
    if total < 0:
        raise InputError(f"cannot split a negative number of credits ({total})")
    d_total = sum(weights.values())
    if d_total <= 0:
        raise InputError("cannot split credits over zero days")
    parts, rems = {}, {}
    for k, w in weights.items():
        parts[k], rems[k] = divmod(total * w, d_total)  # exact integer arithmetic
    left = total - sum(parts.values())
    for k in sorted(rems, key=lambda k: (rems[k], k), reverse=True)[:left]:
        parts[k] += 1
    return parts


def check_no_overlap(periods: Iterable[MonitoringPeriod]) -> None:
    """Refuse periods that share a day: a day can be credited in one period only."""
    ps = sorted(periods, key=lambda p: p.start)
    for a, b in zip(ps, ps[1:]):
        if b.start <= a.end:
            raise InputError(f"the periods {a.start} – {a.end} and {b.start} – {b.end} overlap",
                             "a day can be credited in one period only")
