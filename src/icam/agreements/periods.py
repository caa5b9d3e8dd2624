"""Monitoring periods, agreement terms and calendar years of annual loss data.

Dates
-----
Monitoring periods and agreement terms are date ranges with both ends inclusive (as in
``[periods] monitoring`` of icam.toml). Forest loss comes by calendar year (Hansen GFC's lossyear
and other annual maps), so two conventions tie the two together:

- **a loss year belongs to the monitoring period that holds more than half of its days** (its
  strict majority). With the Alto Mayo periods (15 June to 14 June) the period 2012-06-15 –
  2014-06-14 holds 200 of 2012's 366 days and all of 2013, and 165 of 2014's 365 days: its loss
  years are 2012 and 2013, and 2014 belongs to the next period. Each year is counted in one period
  at most, and the whole year's loss is counted there: splitting a year's loss pro rata between two
  periods (as the carbon accounting does with areas) would dilute a clearing into two amounts that
  may each stay under the tolerance. A period that holds the majority of no year (shorter than about
  half a year) is refused.
- **a loss year counts against an agreement only if the agreement was in force on every one of
  its days** (signed on or before 1 January and ending on or after 31 December). Annual data cannot
  tell whether the clearing of the signing year came before or after the signature (clearing just
  before signing is a known pattern, and it is no breach), nor whether that of the term's last year
  came after it ended. The loss of these partly covered years is reported apart (``partial_px``,
  ``partial_ha``) as weaker evidence: it can send an agreement to field verification, never make a
  breach on its own (see :class:`icam.agreements.compliance.ComplianceRule`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd

from icam.core.errors import InputError


def to_date(value, what: str) -> dt.date:
    """A date from a date, datetime, pandas Timestamp or ISO string."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        ts = pd.NaT
    if ts is pd.NaT or pd.isna(ts):
        raise InputError(f"{what}: {value!r} is not a date", "write dates as YYYY-MM-DD")
    return ts.date()


def optional_date(value, what: str) -> dt.date | None:
    """:func:`to_date`, or None for an empty value (None, NaN, NaT, "")."""
    if value is None or (not isinstance(value, str) and pd.isna(value)) or value == "":
        return None
    return to_date(value, what)


def days_in_year(year: int) -> int:
    """365, or 366 in a leap year of the Gregorian calendar."""
    return 366 if (year % 4 == 0 and year % 100 != 0) or year % 400 == 0 else 365


def overlap_days(start: dt.date, end: dt.date, year: int) -> int:
    """Days of calendar ``year`` within [start, end] (both inclusive)."""
    first, last = max(start, dt.date(year, 1, 1)), min(end, dt.date(year, 12, 31))
    return max((last - first).days + 1, 0)


def _as_period(period, i: int) -> tuple[dt.date, dt.date]:
    start, end = (period.start, period.end) if hasattr(period, "start") else tuple(period)
    start, end = to_date(start, f"period {i + 1} start"), to_date(end, f"period {i + 1} end")
    if end < start:
        raise InputError(f"period {i + 1} ({start} – {end}) ends before it starts", "swap its dates")
    return start, end


def period_loss_years(periods: Iterable) -> list[tuple[dt.date, dt.date, int, int]]:
    """``(start, end, first_year, last_year)`` of each period: the calendar years whose strict majority
    of days the period holds (module docstring). Periods (start, end inclusive; tuples or objects with
    ``start`` and ``end``) must be in order and must not overlap."""
    out = []
    parsed = [_as_period(p, i) for i, p in enumerate(periods)]
    if not parsed:
        raise InputError("no monitoring period given", "give at least one (start, end) period")
    for i, (start, end) in enumerate(parsed):
        if i and start <= parsed[i - 1][1]:
            raise InputError(f"period {i + 1} ({start} – {end}) starts before the previous one ends "
                             f"({parsed[i - 1][1]})", "give periods in date order, without overlaps")
        years = [y for y in range(start.year, end.year + 1) if 2 * overlap_days(start, end, y) > days_in_year(y)]
        if not years:
            raise InputError(f"period {i + 1} ({start} – {end}) holds more than half of no calendar year, so no "
                             "year of annual loss data can be assigned to it",
                             "use monitoring periods of at least a year with annual loss data")
        out.append((start, end, years[0], years[-1]))
    return out


def full_years(since: dt.date | None, until: dt.date | None) -> tuple[int, int, list[int]]:
    """First and last calendar year wholly inside [since, until], and the partly covered years."""
    lo, hi, partial = -(10**6), 10**6, []
    if since is not None:
        lo = since.year if (since.month, since.day) == (1, 1) else since.year + 1
        if lo != since.year:
            partial.append(since.year)
    if until is not None:
        hi = until.year if (until.month, until.day) == (12, 31) else until.year - 1
        if hi != until.year and until.year not in partial:
            partial.append(until.year)
    return lo, hi, partial


def year_span(first: int, last: int) -> str:
    """"2013" or "2012–2013"."""
    return str(first) if first == last else f"{first}–{last}"


__all__ = ["days_in_year", "full_years", "optional_date", "overlap_days", "period_loss_years", "to_date", "year_span"]
