"""Dates as the people who fill the registry's spreadsheets write them (:mod:`icam.store.forms` reads them).

ISO 8601 (``2013-06-20``, or with a time: ``2013-06-20T10:15:00-05:00``, read as the day written) and numeric
dates with the day first (``20/06/2013``, ``20-06-2013``, ``20.06.2013``, ``5/6/2013``): the order of Peru,
and the one Excel on a Spanish Windows writes when it saves a CSV (it writes dates as the regional setting
shows them). A month-first date (a US export: ``06/20/2013``) cannot be told from a day-first one while the
day is 12 or less, so it is never guessed: a value that reads as a date only month first is refused with the
fix, like a two-digit year (which century?).
"""

from __future__ import annotations

import pandas as pd

ISO_DATE = r"^(\d{4}-\d{2}-\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"
DAY_FIRST_DATE = r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$"
DATE_FIX = "write it as YYYY-MM-DD (2013-06-20) or day first, DD/MM/YYYY (20/06/2013)"


def parse_dates(raw: pd.Series) -> pd.Series:
    """The dates (midnight timestamps) of ``raw``'s text; NaT where a value is missing or is not a date of
    either form (the 30th of February, a 13th month, a two-digit year)."""
    text = raw.astype("string")
    iso = text.str.extract(ISO_DATE, expand=False)
    day, month, year = (text.str.extract(DAY_FIRST_DATE)[i] for i in range(3))
    day_first = year + "-" + month.str.zfill(2) + "-" + day.str.zfill(2)
    return pd.to_datetime(iso.fillna(day_first), format="%Y-%m-%d", errors="coerce")
