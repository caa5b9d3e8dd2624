"""Patrols (icam.enforcement.patrols): migration 0003, GPX tracks, Kobo observation imports (all or nothing),
matching observations to alerts, the indicators, and the patrol simulator.

Every database test runs on SQLite and on PostgreSQL when $ICAM_TEST_POSTGRES_URL names a server.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod, Transformer
from sqlalchemy import func, inspect, select

from conftest import write_csv as _csv
from icam.agreements import registry
from icam.core.errors import InputError
from icam.enforcement import patrols
from icam.enforcement.models import TABLES, Alert, Incident, Observation, Patrol, TrackPoint
from icam.simulate.patrols import simulate_patrols
from icam.store.db import Base, current_revision, downgrade, head_revision, make_engine, session, upgrade
from icam.store.extent import Extent
from icam.store.forms import FormImportError

GEOD = Geod(ellps="WGS84")
EQUATOR_M_PER_DEGREE = 6_378_137 * 3.141592653589793 / 180  # 111 319.49 m: WGS 84 semi-major axis × π/180
ALERT_LON, ALERT_LAT = -77.30, -5.90


def _gpx(path: Path, points: list[tuple[float, float, str | None]], ns: str = "http://www.topografix.com/GPX/1/1"):
    pts = "".join(f'<trkpt lat="{lat}" lon="{lon}">' + (f"<time>{t}</time>" if t else "") + "</trkpt>\n"
                  for lon, lat, t in points)
    path.write_text(f'<?xml version="1.0"?>\n<gpx version="1.1" creator="test" xmlns="{ns}">\n<trk><trkseg>\n'
                    f"{pts}</trkseg></trk></gpx>\n", encoding="utf-8")
    return path


def _alert(s, alert_id: str, first: str, lon=ALERT_LON, lat=ALERT_LAT, priority="high", zone="Z1") -> Alert:
    alert = Alert(alert_id=alert_id, first_date=dt.date.fromisoformat(first), area_ha=0.5, lon=lon, lat=lat,
                  zone=zone, priority=priority, status="new", raised_at=dt.datetime(2024, 1, 2))
    s.add(alert)
    s.flush()
    return alert


def _patrol(s, code: str, start: str, zone="Z1", km=5.0, days=1.0) -> Patrol:
    patrol = Patrol(code=code, team="A", zone=zone, start_at=dt.datetime.fromisoformat(start), transport="foot",
                    distance_km=km, days=days)
    s.add(patrol)
    s.flush()
    return patrol


def _obs(s, patrol: Patrol, at: str, distance_m: float, category: str, azimuth=0.0) -> Observation:
    lon, lat, _ = GEOD.fwd(ALERT_LON, ALERT_LAT, azimuth, distance_m)
    obs = Observation(patrol_id=patrol.id, observed_at=dt.datetime.fromisoformat(at), lon=lon, lat=lat,
                      category=category)
    s.add(obs)
    s.flush()
    return obs


# -- migrations ---------------------------------------------------------------------------------------------------


def test_migrations_from_empty_match_the_models_and_downgrade(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import icam.web.accounts  # noqa: F401 - every model the migrations make is compared

    engine = make_engine(db_url)
    try:
        upgrade(engine)
        assert current_revision(engine) == head_revision() == "0005"
        assert set(TABLES) <= set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert diff == [], diff
        downgrade(engine, "0002")
        names = inspect(engine).get_table_names()
        assert not any(t.startswith("enf_") for t in names) and "agr_households" in names
        upgrade(engine)
        assert set(TABLES) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrading_from_0003_keeps_the_alerts_with_no_visit_time(db_url):
    from sqlalchemy import text

    engine = make_engine(db_url)
    try:
        upgrade(engine, "0003")
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO enf_alerts (alert_id, first_date, area_ha, lon, lat, priority, "
                                    "status, verdict, raised_at) VALUES ('A1', '2024-03-01', 0.5, -77.3, -5.9, 'high', "
                                    "'checked', 'true_positive', '2024-03-02 00:00:00')"))
        upgrade(engine)
        with session(engine) as s:
            alert = s.scalar(select(Alert))
            assert (alert.alert_id, alert.status, alert.visited_at) == ("A1", "checked", None)
        downgrade(engine, "0003")
        assert "visited_at" not in {c["name"] for c in inspect(engine).get_columns("enf_alerts")}
    finally:
        engine.dispose()


def test_upgrading_from_0002_keeps_the_registry_rows(db_url, tmp_path):
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0002")
        households = _csv(tmp_path / "households.csv", ["household_id", "community", "members"],
                          [["HH0001", "Caserío 15", 5], ["HH0002", "Nuevo Edén", 3]])
        with session(engine) as s:
            registry.import_table(s, "households", households)
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        with session(engine) as s:
            assert registry.households_table(s)["household_id"].tolist() == ["HH0001", "HH0002"]
            assert s.scalar(select(func.count()).select_from(Alert)) == 0
    finally:
        engine.dispose()


# -- GPX ----------------------------------------------------------------------------------------------------------


def test_gpx_track_distance_days_and_points(engine, tmp_path):
    # three points on the equator, 0.01° apart: each leg is 0.01 × 111 319.49 m (the equator is a geodesic)
    path = _gpx(tmp_path / "p1.gpx", [(0.0, 0.0, "2024-03-05T13:00:00Z"), (0.01, 0.0, "2024-03-05T13:30:00Z"),
                                      (0.02, 0.0, "2024-03-06T08:00:00-05:00")])
    with session(engine) as s:
        _patrol(s, "PAT-1", "2024-03-05T14:00:00")
    with session(engine) as s:
        report = patrols.import_gpx_track(s, "PAT-1", path)
    assert report.n_points == 3
    assert report.distance_km == pytest.approx(2 * 0.01 * EQUATOR_M_PER_DEGREE / 1000, rel=1e-9)
    assert report.end_at == dt.datetime(2024, 3, 6, 13, 0)  # -05:00 converted to UTC
    assert report.days == 2
    with session(engine) as s:
        patrol = s.scalar(select(Patrol).where(Patrol.code == "PAT-1"))
        assert patrol.distance_km == pytest.approx(2.2263898, abs=1e-6)
        assert [p.seq for p in s.scalars(select(TrackPoint).order_by(TrackPoint.seq))] == [0, 1, 2]
    with session(engine) as s:  # a second import replaces the track
        patrols.import_gpx_track(s, "PAT-1", path)
        assert s.scalar(select(func.count()).select_from(TrackPoint)) == 3


def test_a_track_of_a_patrol_not_in_the_registry_is_refused_and_creates_nothing(engine, tmp_path):
    path = _gpx(tmp_path / "PAT-9.gpx", [(0.0, 0.0, "2024-03-05T13:00:00Z"), (0.01, 0.0, "2024-03-05T13:30:00Z")])
    with session(engine) as s:
        _patrol(s, "PAT-1", "2024-03-05T08:00:00")
    with session(engine) as s, pytest.raises(InputError, match=r"1 track\(s\) of patrols not in the registry: "
                                                               r"PAT-9 \(PAT-9\.gpx\)"):
        patrols.import_gpx_tracks(s, {"PAT-1": path, "PAT-9": path})
    with session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Patrol)) == 1
        assert s.scalar(select(func.count()).select_from(TrackPoint)) == 0


def test_a_track_dated_after_today_is_refused_and_today_is_kept(engine, tmp_path):
    # the point's UTC date is compared with today's: 23:59 today passes, 00:00 tomorrow does not
    today = dt.date.today()
    late = _gpx(tmp_path / "late.gpx", [(0.0, 0.0, f"{today}T00:00:00Z"), (0.001, 0.0, f"{today}T23:59:59Z")])
    ahead = _gpx(tmp_path / "ahead.gpx", [(0.0, 0.0, f"{today}T12:00:00Z"),
                                          (0.001, 0.0, f"{today + dt.timedelta(days=1)}T00:00:00Z")])
    with session(engine) as s:
        _patrol(s, "PAT-1", f"{today}T00:00:00")
    with session(engine) as s:
        assert patrols.import_gpx_track(s, "PAT-1", late).days == 1
    with session(engine) as s, pytest.raises(InputError, match=r"ahead\.gpx: track point 2 is dated .*after today"):
        patrols.import_gpx_track(s, "PAT-1", ahead)


def _segments_gpx(path: Path, segments: list[list[tuple[float, float, str]]]) -> Path:
    body = "".join("<trkseg>" + "".join(f'<trkpt lat="{lat}" lon="{lon}"><time>{t}</time></trkpt>'
                                        for lon, lat, t in seg) + "</trkseg>" for seg in segments)
    path.write_text('<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><trk>'
                    f"{body}</trk></gpx>", encoding="utf-8")
    return path


_point_st = st.tuples(st.floats(-77.5, -77.0), st.floats(-6.0, -5.5),
                      st.datetimes(dt.datetime(2023, 1, 1), dt.datetime(2024, 12, 31)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tracks=st.lists(st.lists(st.lists(_point_st, min_size=1, max_size=6), min_size=1, max_size=3),
                       min_size=1, max_size=5))
def test_tracks_imported_together_have_the_lengths_and_days_of_each_track_read_alone(engine, tmp_path, tracks):
    # the batch import measures every track at once; each must equal its own reading, segment gaps not counted
    files = {}
    with session(engine) as s:
        for i, segments in enumerate(tracks):
            files[f"PAT-{i}"] = _segments_gpx(tmp_path / f"PAT-{i}.gpx", [
                [(lon, lat, t.isoformat() + "Z") for lon, lat, t in seg] for seg in segments])
            if not s.scalar(select(func.count()).select_from(Patrol).where(Patrol.code == f"PAT-{i}")):
                _patrol(s, f"PAT-{i}", "2023-01-01T00:00:00")
    with session(engine) as s:
        reports = patrols.import_gpx_tracks(s, files)
        s.rollback()
    for report, segments, path in zip(reports, tracks, files.values()):
        alone = patrols.read_gpx(path)
        legs_m = sum(GEOD.line_length([p[0] for p in seg], [p[1] for p in seg]) for seg in segments if len(seg) > 1)
        assert report.distance_km == patrols.track_length_m(alone) / 1000.0
        assert patrols.track_length_m(alone) == pytest.approx(legs_m, rel=1e-12)
        assert report.days == len({p[2].date() for seg in segments for p in seg})
        assert (report.n_points, report.n_segments) == (sum(map(len, segments)), len(segments))
        assert (report.start_at, report.end_at) == (min(p[2] for seg in segments for p in seg),
                                                    max(p[2] for seg in segments for p in seg))


def test_a_batch_with_a_far_track_names_that_file_and_its_point(engine, tmp_path):
    near = [(-77.30, -5.90, "2024-03-05T13:00:00Z"), (-77.31, -5.90, "2024-03-05T13:30:00Z")]
    far = [(-77.30, -5.90, "2024-03-05T13:00:00Z"), (-5.90, -77.30, "2024-03-05T13:30:00Z")]  # lat and lon swapped
    files = {"PAT-1": _gpx(tmp_path / "PAT-1.gpx", near), "PAT-2": _gpx(tmp_path / "PAT-2.gpx", far)}
    corners = Transformer.from_crs(4326, 32718, always_xy=True).transform([-77.5, -77.0], [-6.0, -5.5])
    extent = Extent(shapely.box(corners[0][0], corners[1][0], corners[0][1], corners[1][1]), "EPSG:32718")
    with session(engine) as s:
        _patrol(s, "PAT-1", "2024-03-05T08:00:00")
        _patrol(s, "PAT-2", "2024-03-05T08:00:00")
    with session(engine) as s, pytest.raises(InputError, match=r"PAT-2\.gpx: track point 2 .* latitude and longitude "
                                                               r"swapped"):
        patrols.import_gpx_tracks(s, files, extent=extent)
    with session(engine) as s:
        assert s.scalar(select(func.count()).select_from(TrackPoint)) == 0


@pytest.mark.parametrize("body, message", [
    ("", "XML error at line 1"),
    ('<?xml version="1.0"?>\n<gpx>\n<trk><trkseg>\n<trkpt lat="1" lon="2">\n</gpx>', "XML error at line 5"),
    ('<gpx xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg></trkseg></trk></gpx>', "holds no track points"),
    ('<gpx xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg><trkpt lat="1" lon="2"/></trkseg></trk></gpx>',
     "track point 1 (track segment 1) has no <time>"),
    ('<gpx xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg><trkpt lat="x" lon="2"><time>2024-01-01T00:00:00Z'
     '</time></trkpt></trkseg></trk></gpx>', "lacks a numeric lat"),
    ('<kml><Document/></kml>', "not a GPX"),
])
def test_bad_gpx_files_are_refused_naming_the_file(engine, tmp_path, body, message):
    path = tmp_path / "bad.gpx"
    path.write_text(body, encoding="utf-8")
    with session(engine) as s:
        _patrol(s, "PAT-X", "2024-01-01T00:00:00")
    with session(engine) as s, pytest.raises(InputError) as info:
        patrols.import_gpx_track(s, "PAT-X", path)
    assert str(path) in str(info.value) and message in str(info.value)
    with session(engine) as s:
        assert s.scalar(select(func.count()).select_from(TrackPoint)) == 0


# -- observations -------------------------------------------------------------------------------------------------

KOBO_HEADER = ["start", "end", "obs/patrol_id", "obs/observed_at", "obs/location", "obs/category", "obs/area_ha",
               "obs/photo", "obs/zone", "_uuid", "_submission_time", "_index"]


def _kobo_row(i: int, category="clearing", location="-5.9 -77.3 1200 5", at="2024-03-05T10:15:00.000-05:00"):
    return [at, at, "PAT-1", at, location, category, "0.4" if category != "none" else "", f"p{i}.jpg", "Z1",
            f"uuid-{i}", "2024-03-07T00:00:00", i]


def test_kobo_observations_import_with_geopoints_and_incidents(engine, tmp_path):
    path = _csv(tmp_path / "obs.csv", KOBO_HEADER, [_kobo_row(1), _kobo_row(2, "none"), _kobo_row(3, "hunting")])
    with session(engine) as s:
        _patrol(s, "PAT-1", "2024-03-05T08:00:00")
    with session(engine) as s:
        report = patrols.import_observations(s, path)
    assert (report.rows, report.inserted, report.incidents) == (3, 3, 2)
    with session(engine) as s:
        first = s.scalar(select(Observation).where(Observation.uuid == "uuid-1"))
        assert (first.lat, first.lon, first.category, first.area_ha) == (-5.9, -77.3, "clearing", 0.4)
        assert first.observed_at == dt.datetime(2024, 3, 5, 15, 15)  # UTC
        assert sorted(i.category for i in s.scalars(select(Incident))) == ["clearing", "hunting"]
    with session(engine) as s, pytest.raises(FormImportError, match="already in the registry"):
        patrols.import_observations(s, path)  # the same export twice


def test_one_bad_observation_row_imports_nothing(engine, tmp_path):
    rows = [_kobo_row(1), _kobo_row(2, "burning"), _kobo_row(3, location="somewhere"), _kobo_row(4, at="yesterday")]
    rows.append(_kobo_row(5)[:2] + ["PAT-9"] + _kobo_row(5)[3:])
    path = _csv(tmp_path / "obs.csv", KOBO_HEADER, rows)
    with session(engine) as s:
        _patrol(s, "PAT-1", "2024-03-05T08:00:00")
    with session(engine) as s, pytest.raises(FormImportError) as info:
        patrols.import_observations(s, path)
    problems = {(e.row, e.column) for e in info.value.errors}
    assert problems == {(3, "category"), (4, "location"), (5, "observed_at"), (6, "patrol_id")}
    assert str(info.value).startswith("obs.csv: 4 of 5 rows refused (first: row 3, column category: 'burning' is not "
                                      "one of clearing, logging")
    with session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Observation)) == 0


# -- matching and indicators --------------------------------------------------------------------------------------


def test_matching_by_distance_and_days(engine):
    with session(engine) as s:
        near_id = _alert(s, "A-near", "2024-03-01").id
        patrol = _patrol(s, "PAT-1", "2024-03-11T08:00:00")
        _obs(s, patrol, "2024-03-11T10:00:00", 100, "clearing")
    with session(engine) as s:
        matches = patrols.match_alerts(s)
    assert len(matches) == 1
    m = matches[0]
    assert (m.alert_id, m.verdict, m.category) == ("A-near", "true_positive", "clearing")
    assert m.distance_m == pytest.approx(100, abs=1e-6) and m.days_after == pytest.approx(10 + 10 / 24)
    with session(engine) as s:
        alert = s.get(Alert, near_id)
        assert (alert.status, alert.verdict) == ("checked", "true_positive")
        assert s.scalar(select(Observation.alert_id)) == near_id


def test_no_match_at_400_m_or_before_the_alert(engine):
    with session(engine) as s:
        _alert(s, "A-1", "2024-03-01")
        patrol = _patrol(s, "PAT-1", "2024-02-01T08:00:00")
        _obs(s, patrol, "2024-03-11T10:00:00", 400, "clearing")
        _obs(s, patrol, "2024-02-20T10:00:00", 50, "none")  # before the alert
        _obs(s, patrol, "2024-12-01T10:00:00", 50, "none")  # 275 days after
    with session(engine) as s:
        assert patrols.match_alerts(s) == []
        assert s.scalar(select(Alert.status)) == "new"
    with session(engine) as s:  # a wider window finds the 400 m one
        assert [m.verdict for m in patrols.match_alerts(s, max_distance_m=500)] == ["true_positive"]


def test_indicators_by_hand(engine):
    with session(engine) as s:
        _alert(s, "A1", "2024-03-01")                      # clearing 10 days later → true
        _alert(s, "A2", "2024-03-01", lon=-77.0)           # "none" 30 days later → false
        _alert(s, "A3", "2024-03-01", lon=-76.0, priority="low", zone="Z2")  # not visited
        _alert(s, "A4", "2024-07-01", priority="low")      # after as_of
        p1 = _patrol(s, "PAT-1", "2024-03-11T08:00:00", km=4.0, days=1.0)
        p2 = _patrol(s, "PAT-2", "2024-03-31T08:00:00", zone="Z2", km=6.5, days=2.0)
        _patrol(s, "PAT-3", "2024-08-01T08:00:00", km=100.0)  # after as_of
        _obs(s, p1, "2024-03-11T00:00:00", 100, "clearing")
        lon, lat, _ = GEOD.fwd(-77.0, ALERT_LAT, 90, 50)
        s.add(Observation(patrol_id=p2.id, observed_at=dt.datetime(2024, 3, 31), lon=lon, lat=lat, category="none"))
        s.add(Incident(observation=_obs(s, p1, "2024-03-11T00:00:00", 100, "clearing"), category="clearing",
                       severity="high", zone="Z1"))
        s.add(Incident(observation=_obs(s, p2, "2024-03-31T00:00:00", 5000, "hunting"), category="hunting",
                       severity="low", zone=None))
    with session(engine) as s:
        assert len(patrols.match_alerts(s)) == 2
        result = patrols.indicators(s, "2024-06-30")
    assert result["alerts"] == 3
    assert result["alerts_by_priority_status"] == {"high": {"checked": 2}, "low": {"new": 1}}
    assert result["checked"] == 2 and result["share_checked"] == pytest.approx(2 / 3)
    assert result["median_days_to_visit"] == pytest.approx(20.0)  # (10 + 30) / 2
    assert result["precision"] == pytest.approx(0.5)
    assert result["effort_by_zone"] == {"Z1": {"patrols": 1, "km": 4.0, "days": 1.0},
                                        "Z2": {"patrols": 1, "km": 6.5, "days": 2.0}}
    assert result["incidents_by_category_zone"] == {"clearing": {"Z1": 1}, "hunting": {"unknown": 1}}
    assert result["actions_by_type"] == {}  # none recorded


# -- simulator ----------------------------------------------------------------------------------------------------


def _sim_alerts(n: int = 40) -> list[dict]:
    return [{"alert_id": f"A{i:03d}", "first_date": dt.date(2024, 1, 1) + dt.timedelta(days=3 * i),
             "lon": -77.5 + 0.01 * i, "lat": -5.8 - 0.005 * i, "zone": f"Z{1 + i % 2}",
             "priority": "high" if i % 3 == 0 else "low", "true": i % 4 != 0, "area_ha": 0.6} for i in range(n)]


def _read_all(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_simulator_is_deterministic_and_its_files_import_and_match(engine, tmp_path):
    a = simulate_patrols(_sim_alerts(), tmp_path / "a", seed=7)
    simulate_patrols(_sim_alerts(), tmp_path / "b", seed=7)
    simulate_patrols(_sim_alerts(), tmp_path / "c", seed=8)
    assert _read_all(tmp_path / "a") == _read_all(tmp_path / "b")
    assert _read_all(tmp_path / "a") != _read_all(tmp_path / "c")
    visits = a["visits"]
    assert 5 <= len(visits) <= 30 and len(a["tracks"]) == len(visits)
    with session(engine) as s:
        for alert in _sim_alerts():
            _alert(s, alert["alert_id"], alert["first_date"].isoformat(), alert["lon"], alert["lat"],
                   alert["priority"], alert["zone"])
    with session(engine) as s:
        assert patrols.import_patrols(s, a["patrols"]) == len(visits)
        for track in a["tracks"]:
            report = patrols.import_gpx_track(s, track.stem, track)
            assert 2 <= report.distance_km <= 6.5
        report = patrols.import_observations(s, a["observations"])
        on_the_way = report.inserted - len(visits)  # hunting and logging met halfway
        assert 0 <= on_the_way <= len(visits) and report.incidents == on_the_way + sum(
            v["category"] != "none" for v in visits)
    with session(engine) as s:
        matches = {m.alert_id: m.verdict for m in patrols.match_alerts(s)}
    expected = {v["alert_id"]: "true_positive" if v["category"] == "clearing" else "false_positive" for v in visits}
    assert matches == expected


# -- follow-up actions ---------------------------------------------------------------------------------------------


def _incident_with_uuid(s, uuid: str, at: str, category="clearing") -> Observation:
    patrol = s.scalar(select(Patrol).where(Patrol.code == "PAT-A")) or _patrol(s, "PAT-A", "2024-03-01T08:00:00")
    obs = _obs(s, patrol, at, 10, category)
    obs.uuid = uuid
    if category != "none":
        s.add(Incident(observation=obs, category=category, severity="high", zone="Z1"))
    s.flush()
    return obs


def test_actions_import_links_incidents_and_refuses_bad_rows(engine, tmp_path):
    with session(engine) as s:
        _incident_with_uuid(s, "u-1", "2024-03-05T10:00:00")
        _incident_with_uuid(s, "u-2", "2024-03-06T10:00:00")
        _incident_with_uuid(s, "u-none", "2024-03-06T11:00:00", category="none")
    good = _csv(tmp_path / "actions.csv", ["observation_uuid", "action", "taken_on", "taken_by"],
                [["u-1", "report_to_authorities", "2024-03-07", "Jefatura"],
                 ["u-1", "sanction", "2024-05-02", "SERNANP"],
                 ["u-2", "agreement_warning", "2024-03-06", "CI"]])
    with session(engine) as s:
        assert patrols.import_actions(s, good) == 3
    from icam.enforcement.models import Action

    with session(engine) as s:
        by_action = dict(s.execute(select(Action.action, func.count()).group_by(Action.action)).all())
    assert by_action == {"report_to_authorities": 1, "sanction": 1, "agreement_warning": 1}
    bad = _csv(tmp_path / "bad.csv", ["observation_uuid", "action", "taken_on"],
               [["u-2", "report_to_authorities", "2024-03-08"],  # fine, but the file has bad rows
                ["u-9", "sanction", "2024-03-08"],  # unknown submission
                ["u-none", "sanction", "2024-03-08"],  # nothing found there: no incident
                ["u-2", "arrest", "2024-03-08"],  # not an action
                ["u-2", "sanction", "2024-03-01"],  # before the observation (2024-03-06)
                ["u-1", "sanction", "2024-05-02"]])  # already in the registry
    with session(engine) as s, pytest.raises(FormImportError) as caught:
        patrols.import_actions(s, bad)
    assert str(caught.value).startswith("bad.csv: 5 of 6 rows refused (first: row 3, column observation_uuid: "
                                        "'u-9' is not an observation with an incident of the registry)")
    assert [(e.row, e.column, e.problem) for e in caught.value.errors] == [
        (3, "observation_uuid", "'u-9' is not an observation with an incident of the registry"),
        (4, "observation_uuid", "'u-none' is not an observation with an incident of the registry"),
        (5, "action", "'arrest' is not one of report_to_authorities, agreement_warning, sanction, none"),
        (6, "taken_on", "'2024-03-01' is before the observation"),
        (7, "action", "'sanction' is already in the registry (same observation, action and date)")]
    with session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Action)) == 3


# -- patrol plans --------------------------------------------------------------------------------------------------


def test_plan_takes_the_best_open_alerts_and_assigns_them(engine):
    with session(engine) as s:
        for code, priority, score, zone in (("A1", "high", 7.0, "Z1"), ("A2", "medium", 4.0, "Z1"),
                                            ("A3", "high", 8.0, "Z2"), ("A4", "low", 2.0, "Z1"),
                                            ("A5", "medium", 5.0, "Z1")):
            _alert(s, code, "2024-03-01", priority=priority, zone=zone).score = score
        s.scalar(select(Alert).where(Alert.alert_id == "A5")).status = "checked"
    with session(engine) as s:
        plan, table = patrols.plan_patrol(s, start=dt.date(2024, 4, 1), days=2, team="B", zone="Z1", max_alerts=5)
        assert plan.code == "PLAN-20240401-1" and plan.planned_end == dt.date(2024, 4, 2)
    assert table["alert_id"].tolist() == ["A1", "A2"]  # Z1, medium or higher, open, best score first
    with session(engine) as s:
        statuses = dict(s.execute(select(Alert.alert_id, Alert.status)).all())
        assert statuses == {"A1": "assigned", "A2": "assigned", "A3": "new", "A4": "new", "A5": "checked"}
        second, table = patrols.plan_patrol(s, start=dt.date(2024, 4, 1), max_alerts=1, min_priority="low")
        assert second.code == "PLAN-20240401-2" and table["alert_id"].tolist() == ["A3"]
        with pytest.raises(InputError, match="no open alert of priority high or higher in zone Z1"):
            patrols.plan_patrol(s, start=dt.date(2024, 4, 1), zone="Z1", min_priority="high")
    with session(engine) as s:
        # A1 and A2's plan ends 2024-04-02: on that day they are still planned, the day after they are open again;
        # A3 was checked meanwhile and stays checked
        s.scalar(select(Alert).where(Alert.alert_id == "A3")).status = "checked"
    with session(engine) as s:
        assert patrols.release_lapsed(s, dt.date(2024, 4, 2)) == []
        third, table = patrols.plan_patrol(s, start=dt.date(2024, 4, 3), zone="Z1", min_priority="high")
        assert third.code == "PLAN-20240403-1" and table["alert_id"].tolist() == ["A1"]
        statuses = dict(s.execute(select(Alert.alert_id, Alert.status)).all())
    assert statuses == {"A1": "assigned", "A2": "new", "A3": "checked", "A4": "new", "A5": "checked"}
