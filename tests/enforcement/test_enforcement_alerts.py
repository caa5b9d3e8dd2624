"""Alerts: clustering, description, priority and exports on a hand-made 12 × 12 grid of 30 m pixels.

Layout (rows, cols), dates in days since 2015-01-01 (day 2990 = 2023-03-10, 3000 = 2023-03-20):

- A: rows 2–3, cols 2–3, dates 3000, 3000 / 3005, 3010, confidence 3 at (3, 3), else 2;
- B: rows 2–3, cols 6–7, all 3020, confidence 1 (two empty columns, 4 and 5, i.e. 60 m, from A);
- C: row 10, col 10, date 2990, confidence 1.

2015..2022 hold 6 · 365 + 2 · 366 = 2922 days, so day 3000 is 2023-01-01 + 78 days = 2023-03-20.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import subprocess
import xml.etree.ElementTree as ET

import geopandas as gpd
import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np
import pytest
import shapely
from affine import Affine
from hypothesis import given, settings
from pyproj import CRS

from icam.core.errors import InputError
from icam.enforcement.alerts import (
    ALERT_EPOCH,
    AlertRaster,
    _share_at_or_below,
    cluster_alerts,
    date_to_days,
    days_to_date,
    describe,
    new_alerts,
)
from icam.enforcement.exports import write_alerts, write_field_sheet
from icam.enforcement.priority import PriorityRule
from icam.landscape.grid import Grid

X0, Y1, RES = 276000.0, 9358000.0, 30.0


@pytest.fixture
def grid() -> Grid:
    return Grid(CRS.from_epsg(32718).to_wkt(), Affine(RES, 0, X0, 0, -RES, Y1), 12, 12)


@pytest.fixture
def alerts() -> AlertRaster:
    date = np.zeros((12, 12), dtype=np.int32)
    conf = np.zeros((12, 12), dtype=np.uint8)
    date[2, 2], date[2, 3], date[3, 2], date[3, 3] = 3000, 3000, 3005, 3010
    conf[2:4, 2:4] = 2
    conf[3, 3] = 3
    date[2:4, 6:8], conf[2:4, 6:8] = 3020, 1
    date[10, 10], conf[10, 10] = 2990, 1
    return AlertRaster(date, conf)


def _id(date: str, x: float, y: float) -> str:
    return f"{date}-{hashlib.sha1(f'{round(x)}:{round(y)}'.encode()).hexdigest()[:6]}"


def _x(col: float) -> float:
    return X0 + RES * (col + 0.5)


def _y(row: float) -> float:
    return Y1 - RES * (row + 0.5)


def test_epoch_and_dates():
    assert ALERT_EPOCH.isoformat() == "2015-01-01"
    assert days_to_date(3000).isoformat() == "2023-03-20"
    assert date_to_days("2023-03-20") == 3000


def test_gap_of_60_m_joins_at_max_gap_60(grid, alerts):
    events = cluster_alerts(alerts, grid, max_gap_m=60.0)
    t = events.table
    assert len(events) == 2
    # C has the earlier first date (2990): event 1
    c, ab = t.iloc[0], t.iloc[1]
    assert c.n_px == 1 and c.area_ha == pytest.approx(0.09)
    assert (c.x, c.y) == (pytest.approx(_x(10)), pytest.approx(_y(10)))
    assert c.alert_id == _id("20230310", _x(10), _y(10))
    # A + B: 8 pixels of 0.09 ha; centroid at mean col (2+3+6+7)/4 = 4.5, mean row 2.5
    assert ab.n_px == 8 and ab.area_ha == pytest.approx(0.72)
    assert ab.x == pytest.approx(_x(4.5)) and ab.y == pytest.approx(_y(2.5))
    assert ab.first_date.isoformat() == "2023-03-20" and ab.last_days == 3020
    assert ab.max_confidence == 3 and ab.mean_confidence == pytest.approx((2 * 3 + 3 + 4 * 1) / 8)
    assert ab.alert_id == _id("20230320", _x(4.5), _y(2.5))
    # bounding box: cols 2..7 and rows 2..3, pixel edges
    assert (ab.xmin, ab.xmax) == (X0 + 60, X0 + 240) and (ab.ymin, ab.ymax) == (Y1 - 120, Y1 - 60)
    assert -78 < ab.lon < -77 and -6 < ab.lat < -5
    # labels: the event numbers on the alert pixels only
    assert set(np.unique(events.labels[2:4, 2:8][:, [0, 1, 4, 5]])) == {2}
    assert events.labels[2:4, 4:6].sum() == 0 and events.labels[10, 10] == 1
    # without the labels (what the run keeps after writing the files): the same table and points
    kept = events.without_labels()
    assert kept.labels is None and kept.table is events.table
    assert kept.points().geometry.equals(events.points().geometry)


def test_gap_of_60_m_stays_apart_at_max_gap_20(grid, alerts):
    events = cluster_alerts(alerts, grid, max_gap_m=20.0)
    t = events.table
    assert t.n_px.tolist() == [1, 4, 4]  # C (2990), A (3000), B (3020)
    assert t.area_ha.tolist() == pytest.approx([0.09, 0.36, 0.36])
    assert t.alert_id.tolist() == [_id("20230310", _x(10), _y(10)), _id("20230320", _x(2.5), _y(2.5)),
                                   _id("20230409", _x(6.5), _y(2.5))]  # 3020 = 3000 + 20: 2023-04-09


def test_filters_and_same_ids_on_rerun(grid, alerts):
    first = cluster_alerts(alerts, grid, max_gap_m=20.0)
    again = cluster_alerts(AlertRaster(alerts.date_days.copy(), alerts.confidence.copy()), grid, max_gap_m=20.0)
    assert first.alert_ids == again.alert_ids
    assert len(cluster_alerts(alerts, grid, max_gap_m=20.0, min_confidence=2)) == 1  # only A
    recent = cluster_alerts(alerts, grid, max_gap_m=20.0, since_days="2023-03-21")
    assert recent.table.n_px.tolist() == [2, 4]  # A's pixels of 3005 and 3010, and B
    # A's first date moved, so its id did: a new alert for the clearing's new part
    assert recent.alert_ids[1] == first.alert_ids[2]
    assert len(cluster_alerts(alerts, grid, until_days=2999)) == 1


def test_seen_alerts_are_not_raised_again(grid, alerts):
    events = cluster_alerts(alerts, grid, max_gap_m=20.0)
    seen = {events.alert_ids[0]}
    fresh = new_alerts(events, seen)
    assert fresh.alert_ids == events.alert_ids[1:]
    assert len(new_alerts(fresh, set(events.alert_ids))) == 0


def test_from_annual_loss():
    loss = np.array([[0, 23, 22], [23, 0, 0]])
    layer = AlertRaster.from_annual_loss(loss, 2023)
    # 2023-07-01 = 2922 + 31 + 28 + 31 + 30 + 31 + 30 = day 3103
    assert layer.date_days.tolist() == [[0, 3103, 0], [3103, 0, 0]]
    assert layer.confidence.tolist() == [[0, 2, 0], [2, 0, 0]]
    assert AlertRaster.from_annual_loss(loss + 2000 * (loss > 0), 2022).date_days[0, 2] == 3103 - 365
    with pytest.raises(InputError, match="before the alert epoch"):
        AlertRaster.from_annual_loss(loss, 2010)


def _landscape(grid):
    zones = {"project_area": np.zeros(grid.shape, bool), "leakage_belt": np.zeros(grid.shape, bool)}
    zones["project_area"][:, :6] = True
    zones["leakage_belt"][:, 6:9] = True  # C (col 10) is outside both
    road = np.zeros(grid.shape)
    road[:, 4:8], road[:, 8:] = 1.0, 5.0
    risk = np.arange(144, dtype=float).reshape(12, 12)
    parcel = shapely.box(X0 + 5 * RES, Y1 - 5 * RES, X0 + 9 * RES, Y1 - 1 * RES)  # cols 5–8, rows 1–4
    parcels = gpd.GeoDataFrame({"agreement": ["AC-2020-0001"], "household": ["HH0001"]}, geometry=[parcel],
                               crs=grid.crs)
    return zones, road, risk, parcels


def test_describe_zone_distance_risk_agreement(grid, alerts):
    zones, road, risk, parcels = _landscape(grid)
    joined = describe(cluster_alerts(alerts, grid), zones=zones, distance_km={"road": road}, risk=risk,
                      parcels=parcels)
    # A + B: 4 pixels in the project area, 4 in the leakage belt: the tie goes to the earlier zone
    assert joined.table.zone.tolist() == ["outside", "project_area"]
    apart = describe(cluster_alerts(alerts, grid, max_gap_m=20), zones=zones, distance_km={"road": road},
                     risk=risk, parcels=parcels).table
    assert apart.zone.tolist() == ["outside", "project_area", "leakage_belt"]
    assert apart.road_km.tolist() == pytest.approx([5.0, 0.0, 1.0])
    # A's risk values 26, 27, 38, 39: mean 32.5, and 33 of the 144 values (0..32) are ≤ it
    assert apart.risk[1] == pytest.approx(32.5) and apart.risk_percentile[1] == pytest.approx(33 / 144)
    assert apart.agreement.isna().tolist() == [True, True, False] and apart.agreement[2] == "AC-2020-0001"
    assert apart.household.isna().tolist() == [True, True, False] and apart.household[2] == "HH0001"
    assert apart.parcel_px.tolist() == [0, 0, 4]


def test_priority_order_by_hand(grid, alerts):
    zones, road, risk, parcels = _landscape(grid)
    events = describe(cluster_alerts(alerts, grid, max_gap_m=20), zones=zones, distance_km={"road": road},
                      parcels=parcels)
    rule = PriorityRule(area_ref_ha=0.36, recency_days=10.0, road_ref_km=1.0, w_risk=0.0)
    ranked = rule.apply(events, as_of=3030).table
    # A: area 2·min(1, 0.36/0.36) = 2; recent 2·exp(−(3030−3010)/10) = 0.2707; zone project 2;
    #    no agreement 0; road 1·exp(0) = 1; confidence 1·(3−1)/2 = 1: 6.2707 → high
    # B: 2 + 2·exp(−1) = 0.7358 + leakage 1 + agreement 1.5 + exp(−1) = 0.3679 + 0: 5.6037 → medium
    # C: 2·0.25 = 0.5 + 2·exp(−4) = 0.0366 + outside 0 + 0 + exp(−5) = 0.0067 + 0: 0.5433 → low
    a, b, c = 2 + 2 * math.exp(-2) + 2 + 1 + 1, 2 + 2 * math.exp(-1) + 1 + 1.5 + math.exp(-1), \
        0.5 + 2 * math.exp(-4) + math.exp(-5)
    assert ranked.score.tolist() == pytest.approx([a, b, c])
    assert ranked.priority.tolist() == ["high", "medium", "low"]
    assert ranked.n_px.tolist() == [4, 4, 1] and ranked.zone.tolist()[0] == "project_area"
    with pytest.raises(InputError, match="must be positive"):
        PriorityRule(recency_days=0)


def test_exports_open(grid, alerts, tmp_path):
    zones, road, risk, parcels = _landscape(grid)
    events = PriorityRule().apply(describe(cluster_alerts(alerts, grid, max_gap_m=20), zones=zones,
                                           distance_km={"road": road}, risk=risk, parcels=parcels), "2023-04-20")
    paths = write_alerts(events, tmp_path / "out")
    assert sorted(paths) == ["geojson", "gpkg", "gpx", "kml"]
    ns = {"g": "http://www.topografix.com/GPX/1/1"}
    wpts = ET.parse(paths["gpx"]).getroot().findall("g:wpt", ns)
    assert [w.find("g:name", ns).text for w in wpts] == events.alert_ids
    assert float(wpts[0].get("lat")) == pytest.approx(events.table.lat[0])
    assert "priority" in wpts[0].find("g:desc", ns).text
    kml = ET.parse(paths["kml"]).getroot()
    names = [e.text for e in kml.iter() if e.tag.endswith("}name") or e.tag == "name"]
    assert set(events.alert_ids) <= set(names)
    geojson = json.loads(paths["geojson"].read_text())
    assert [f["properties"]["name"] for f in geojson["features"]] == events.alert_ids
    assert geojson["features"][0]["geometry"]["coordinates"][0] == pytest.approx(events.table.lon[0])
    foot = gpd.read_file(paths["gpkg"], layer="alerts_footprints")
    assert foot.area.tolist() == pytest.approx([4 * 900, 4 * 900, 900])
    assert gpd.read_file(paths["gpkg"], layer="alerts").crs.to_epsg() == 32718
    assert not list((tmp_path / "out").glob(".*tmp*"))
    if shutil.which("ogrinfo"):
        for path in paths.values():
            done = subprocess.run(["ogrinfo", "-ro", "-so", "-al", str(path)], capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
            assert "Feature Count: 3" in done.stdout

    sheet = write_field_sheet(events, tmp_path / "sheet.html", landscape_map=risk)
    text = sheet.read_text()
    ET.fromstring(text.split("<body>")[1].split("</body>")[0].join(["<body>", "</body>"]))
    positions = [text.index(i) for i in events.alert_ids]
    assert positions == sorted(positions)
    assert text.count("data:image/png;base64,") == 3 and "18S" in text
    assert "data:image" not in write_field_sheet(events, tmp_path / "plain.html").read_text()


def test_footprints_keep_holes_and_parts(grid):
    """A ring of 8 pixels around a pixel with no alert is one polygon with a hole (8 cells); two pixels a pixel
    apart, joined by a 60 m gap, are one event of two polygons; every vertex on the pixels' corners."""
    date = np.zeros((12, 12), dtype=np.int32)
    date[1:4, 1:4] = 3000
    date[2, 2] = 0
    date[9, 8], date[9, 10] = 3001, 3001
    events = cluster_alerts(AlertRaster(date, np.where(date > 0, 2, 0).astype(np.uint8)), grid, max_gap_m=60.0)
    foot = events.footprints().set_index("n_px").geometry
    ring, pair = foot[8], foot[2]
    assert ring.geom_type == "Polygon" and len(ring.interiors) == 1
    assert ring.area == 8 * RES * RES and shapely.Polygon(ring.exterior).area == 9 * RES * RES
    assert ring.interiors[0].bounds == (X0 + 2 * RES, Y1 - 3 * RES, X0 + 3 * RES, Y1 - 2 * RES)
    assert pair.geom_type == "MultiPolygon" and len(pair.geoms) == 2 and pair.area == 2 * RES * RES
    assert sorted(g.bounds[0] for g in pair.geoms) == [X0 + 8 * RES, X0 + 10 * RES]


def test_empty_events_export(grid, tmp_path):
    empty = AlertRaster(np.zeros(grid.shape, np.int32), np.zeros(grid.shape, np.uint8))
    events = cluster_alerts(empty, grid)
    assert len(events) == 0
    paths = write_alerts(events, tmp_path)
    assert ET.parse(paths["gpx"]).getroot().findall("{http://www.topografix.com/GPX/1/1}wpt") == []
    assert "No alerts" in write_field_sheet(events, tmp_path / "s.html").read_text()


def test_bad_inputs(grid, alerts):
    with pytest.raises(InputError, match="10 × 12 pixels but the grid is 12 × 12"):
        cluster_alerts(AlertRaster(alerts.date_days[:10], alerts.confidence[:10]), grid)
    with pytest.raises(InputError, match="not two arrays of one shape"):
        AlertRaster(alerts.date_days, alerts.confidence[:10])
    bad = alerts.date_days.copy()
    bad[5, 4] = -3
    with pytest.raises(InputError, match=r"negative value \(-3 at row 5, column 4\)"):
        AlertRaster(bad, alerts.confidence)
    conf = alerts.confidence.copy()
    conf[10, 10] = 0
    with pytest.raises(InputError, match="confidence 0 at row 10, column 10"):
        AlertRaster(alerts.date_days, conf)
    with pytest.raises(InputError, match="not integers"):
        AlertRaster(alerts.date_days.astype(float), alerts.confidence)
    events = cluster_alerts(alerts, grid)
    with pytest.raises(InputError, match="zone 'project_area' is"):
        describe(events, zones={"project_area": np.ones((3, 3), bool)})
    with pytest.raises(InputError, match="no column 'agreement'"):
        describe(events, parcels=gpd.GeoDataFrame({"x": [1]}, geometry=[shapely.box(0, 0, 1, 1)], crs=grid.crs))
    with pytest.raises(InputError, match="unknown alert export format"):
        write_alerts(events, "/tmp/never", formats=("shp",))


@settings(max_examples=60, deadline=None)
@given(values=hnp.arrays(np.float32, st.integers(0, 60),
                         elements=st.floats(-5, 5, width=32) | st.sampled_from([np.nan, np.inf, -np.inf])),
       thresholds=st.lists(st.floats(-6, 6), max_size=8), chunk=st.integers(1, 9))
def test_the_share_at_or_below_counted_by_chunks_is_the_share_of_all_values(values, thresholds, chunk):
    # each chunk's values sorted alone, then the counts added: the share of the finite values at or below each
    # threshold, as one sort of them all gives it, whatever the chunks
    thresholds = np.array(thresholds + [float(v) for v in values[:3] if np.isfinite(v)])
    finite = values[np.isfinite(values)].astype(np.float64)
    expected = np.array([np.count_nonzero(finite <= t) for t in thresholds]) / max(finite.size, 1)
    np.testing.assert_array_equal(_share_at_or_below(values.reshape(-1, 1), thresholds, chunk), expected)

