"""The enforcement stage's pieces that need no landscape: GFW integrated alerts decoded by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from icam.core.errors import InputError
from icam.enforcement.alerts import days_to_date
from icam.pipeline.stages.enforcement import decode_gfw_integrated


def test_gfw_integrated_alerts_decode_to_dates_and_confidence():
    # GFW: leading digit 2 low, 3 high, 4 highest; then days since 2014-12-31
    values = np.array([[0, 20001, 30055], [21847, 41847, 0]], dtype=np.int64)
    alerts = decode_gfw_integrated(values)
    assert alerts.confidence.tolist() == [[0, 1, 2], [1, 3, 0]]
    dates = {(r, c): days_to_date(alerts.date_days[r, c]) for r, c in zip(*np.nonzero(alerts.date_days))}
    # 30055: day 55 after 2014-12-31 is 2015-02-24; 21847 and 41847: 2020-01-21
    assert dates == {(0, 2): dt.date(2015, 2, 24), (1, 0): dt.date(2020, 1, 21), (1, 1): dt.date(2020, 1, 21),
                     (0, 1): dt.date(2015, 1, 2)}  # 2015-01-01 is day 0 ("no alert") here: moved to day 1


def test_gfw_integrated_refuses_other_codes():
    with pytest.raises(InputError, match="value 51000 at row 0, column 1 is not a GFW integrated alert"):
        decode_gfw_integrated(np.array([[20010, 51000]], dtype=np.int64), "alerts.tif")
