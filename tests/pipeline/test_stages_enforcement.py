"""The enforcement stage's pieces that need no project: GFW integrated alerts decoded by hand, the alerts of an
annual loss map, a two-band alert layer read by hand."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS

from conftest import UTM, X0, Y0, write_tif
from icam.core.errors import InputError
from icam.enforcement.alerts import days_to_date
from icam.forest.change import ForestChange
from icam.landscape.grid import Grid
from icam.pipeline.stages.enforcement import decode_gfw_integrated, read_alerts


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


EPOCHS = (2019, 2020, 2021, 2022)  # loss period 1 is 2020's loss, 2 is 2021's


@pytest.mark.parametrize(("year", "lost"), [
    (2020, [[False, True, False], [False, False, True], [False, False, False]]),
    (2021, [[False, False, True], [False, False, False], [True, True, False]]),  # (1, 0) has no data: no alert
    (2022, np.zeros((3, 3), bool)),  # the map's last year, which lost nothing here
])
def test_the_alerts_of_an_annual_loss_map_are_its_loss_of_the_year(year, lost):
    loss_period = np.array([[0, 1, 2], [2, 0, 1], [2, 2, 0]], np.uint8)
    valid = np.array([[True, True, True], [False, True, True], [True, True, True]])
    forest = ForestChange(EPOCHS, np.ones((3, 3), bool), loss_period, valid, "annual")
    config = SimpleNamespace(enforcement=SimpleNamespace(alerts=None, annual_loss_year=year))
    raster, source = read_alerts(config, SimpleNamespace(forest=forest))
    assert source == {"kind": "annual_loss", "year": year}
    np.testing.assert_array_equal(raster.date_days > 0, lost)


@pytest.mark.parametrize("year", [2019, 2023, 2010])
def test_an_annual_loss_year_the_map_has_no_loss_in_is_refused(year):
    forest = ForestChange(EPOCHS, np.ones((2, 2), bool), np.array([[0, 1], [2, 0]], np.uint8), np.ones((2, 2), bool),
                          "annual")
    config = SimpleNamespace(enforcement=SimpleNamespace(alerts=None, annual_loss_year=year))
    with pytest.raises(InputError, match=f"annual_loss_year = {year} is not a loss year of the forest data"):
        read_alerts(config, SimpleNamespace(forest=forest))


def test_a_two_band_alert_layer_is_read_a_band_at_a_time_with_no_alert_where_either_band_has_no_data(tmp_path):
    """Band 1 dates, band 2 confidence (nodata −1 in either band, or outside the file: no alert there), read onto a
    grid wider than the file."""
    date = np.array([[100, 0, 250], [300, -1, 400]], dtype=np.int32)
    confidence = np.array([[2, 0, -1], [3, 1, 1]], dtype=np.int32)
    path = write_tif(tmp_path / "alerts.tif", np.stack([date, confidence]), nodata=-1)
    grid = Grid(CRS.from_string(UTM).to_wkt(), Affine(30, 0, X0, 0, -30, Y0), 2, 4)  # a column east of the file
    config = SimpleNamespace(enforcement=SimpleNamespace(alerts=path, alerts_encoding="date_confidence"))
    raster, source = read_alerts(config, SimpleNamespace(grid=grid))
    assert source == {"kind": "alert_raster", "path": str(path), "encoding": "date_confidence"}
    assert raster.date_days.tolist() == [[100, 0, 0, 0], [300, 0, 400, 0]]
    assert raster.confidence.tolist() == [[2, 0, 0, 0], [3, 0, 1, 0]] and raster.confidence.dtype == np.uint8
    single = write_tif(tmp_path / "one.tif", date[None])
    config.enforcement.alerts = single
    with pytest.raises(InputError, match=r"has 1 band\(s\), not 2 \(date, confidence\)"):
        read_alerts(config, SimpleNamespace(grid=grid))
