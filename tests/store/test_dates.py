"""Dates as people write them (icam.store.dates): ISO 8601 and day first, never a guessed month-first date."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from icam.store.dates import parse_dates


@pytest.mark.parametrize(("text", "day"), [
    ("2013-06-20", "2013-06-20"),
    ("2013-06-20T10:15:00.000-05:00", "2013-06-20"),  # ODK's dateTime: the day as written
    ("20/06/2013", "2013-06-20"),  # Excel es-PE
    ("20-06-2013", "2013-06-20"),
    ("20.06.2013", "2013-06-20"),
    ("5/6/2013", "2013-06-05"),  # the 5th of June, not the 6th of May
    ("29/02/2016", "2016-02-29"),
])
def test_iso_and_day_first_dates_are_read(text, day):
    assert parse_dates(pd.Series([text])).tolist() == [pd.Timestamp(day)]


@pytest.mark.parametrize("text", [
    "06/20/2013",  # month first (a US export): refused, not guessed
    "31/02/2013",  # no 31st of February
    "29/02/2015",  # not a leap year
    "20/06/13",  # which century?
    "2013/06/20",
    "yesterday",
])
def test_what_is_not_a_date_either_way_is_refused(text):
    assert parse_dates(pd.Series([text])).isna().all()


def test_missing_values_stay_missing_beside_dates():
    values = parse_dates(pd.Series(["20/06/2013", None, "2014-01-02"], dtype=object))
    assert values.iloc[[0, 2]].tolist() == [pd.Timestamp("2013-06-20"), pd.Timestamp("2014-01-02")]
    assert pd.isna(values.iloc[1])


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)))
def test_every_day_reads_the_same_in_every_form(day):
    forms = [day.isoformat(), day.strftime("%d/%m/%Y"), f"{day.day}.{day.month}.{day.year:04d}",
             day.strftime("%d-%m-%Y")]
    assert parse_dates(pd.Series(forms)).tolist() == [pd.Timestamp(day)] * len(forms)
