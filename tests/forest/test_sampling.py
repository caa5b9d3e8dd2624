"""Sampling designs (icam.forest.sampling): allocation, draws, reproducibility, export and label import."""

from __future__ import annotations

import shutil
import subprocess
import time

import numpy as np
import pandas as pd
import pytest

from icam.core.errors import InputError
from icam.forest import area as A
from icam.forest import labels as L
from icam.forest import sampling as S
from icam.landscape.grid import Grid

UTM = "EPSG:32718"


def make_grid(shape, res=30.0, crs=UTM, x0=300_000.0, y0=9_300_000.0) -> Grid:
    from affine import Affine
    from pyproj import CRS

    return Grid(CRS.from_user_input(crs).to_wkt(), Affine(res, 0, x0, 0, -res, y0), *shape)


def toy_map(shape=(200, 300), seed=0):
    """Forest (1) west, non-forest (5) east, a rare loss class (2), a nodata (0) strip."""
    rng = np.random.default_rng(seed)
    m = np.ones(shape, np.uint8)
    m[:, shape[1] // 2:] = 5
    m[rng.random(shape) < 0.01] = 2
    m[:5, :] = 0
    return m


def pixel_of(design, grid):
    t = grid.transform
    col = np.floor((design.points["x"].to_numpy() - t.c) / t.a).astype(int)
    row = np.floor((design.points["y"].to_numpy() - t.f) / t.e).astype(int)
    return row, col


# --------------------------------------------------------------------------- stratified


def test_every_stratum_gets_its_n_and_points_lie_in_their_stratum():
    m = toy_map()
    g = make_grid(m.shape)
    d = S.stratified_design(m, g, n_total=300, allocation="minimum", min_per_stratum=50, nodata=0, seed=3)
    assert d.n == 300 == d.strata["n"].sum()
    assert d.strata["stratum"].tolist() == [1, 2, 5]
    counts = d.points["stratum"].value_counts().to_dict()
    assert counts == dict(zip(d.strata["stratum"], d.strata["n"]))
    assert counts[2] == 50  # the rare stratum gets its minimum
    row, col = pixel_of(d, g)
    assert (row == d.points["row"]).all() and (col == d.points["col"]).all()
    assert (m[row, col] == d.points["stratum"].to_numpy()).all()
    assert (m[row, col] == d.points["map_class"].to_numpy()).all()
    assert (m[row, col] != 0).all()
    # the point sits at the pixel centre
    assert np.allclose((d.points["x"] - g.transform.c) % 30, 15)
    assert np.allclose((g.transform.f - d.points["y"]) % 30, 15)
    # no pixel drawn twice
    assert not d.points[["row", "col"]].duplicated().any()
    # mapped px and areas
    for s, px, ha in d.strata[["stratum", "mapped_px", "area_ha"]].itertuples(index=False):
        assert px == (m == s).sum()
        assert ha == pytest.approx(px * 0.09)


@pytest.mark.parametrize("allocation", ["proportional", "equal", "neyman", "minimum"])
def test_allocation_sums_to_n(allocation):
    m = toy_map()
    d = S.stratified_design(m, make_grid(m.shape), n_total=257, allocation=allocation, min_per_stratum=40,
                            expected_users_accuracy={1: 0.9, 2: 0.6, 5: 0.85}, nodata=0, seed=1)
    assert d.strata["n"].sum() == 257 == d.n
    if allocation == "equal":
        assert sorted(d.strata["n"]) == [85, 86, 86]
    if allocation == "proportional":
        w = d.strata["area_ha"] / d.strata["area_ha"].sum()
        assert np.all(np.abs(d.strata["n"] - w * 257) < 1)


def test_user_strata_buffer():
    m = toy_map()
    buffer = m.copy()
    buffer[:, 140:160] = 9  # a buffer stratum along the forest edge
    d = S.stratified_design(m, make_grid(m.shape), strata=buffer, n_total=200, allocation="equal", nodata=0, seed=2)
    assert set(d.points["stratum"]) == {1, 2, 5, 9}
    b = d.points[d.points["stratum"] == 9]
    assert len(b) == 50 and b["col"].between(140, 159).all()
    assert set(b["map_class"]) <= {1, 2, 5}


def test_reproducible_by_seed():
    m = toy_map()
    g = make_grid(m.shape)
    a = S.stratified_design(m, g, n_total=120, nodata=0, seed=7)
    b = S.stratified_design(m, g, n_total=120, nodata=0, seed=7)
    c = S.stratified_design(m, g, n_total=120, nodata=0, seed=8)
    pd.testing.assert_frame_equal(a.points, b.points)
    assert not a.points[["row", "col"]].equals(c.points[["row", "col"]])


def test_sample_size_from_target_se():
    m = toy_map()
    ua = {1: 0.9, 2: 0.7, 5: 0.85}
    d = S.stratified_design(m, make_grid(m.shape), target_se=0.02, expected_users_accuracy=ua, nodata=0, seed=1)
    W = {s: a for s, a in zip(d.strata["stratum"], d.strata["area_ha"])}
    assert d.n == A.sample_size_overall_accuracy(W, ua, 0.02) == d.params["n_from_target"]
    with pytest.raises(InputError, match="--n"):
        S.stratified_design(m, make_grid(m.shape), nodata=0)


def test_stratum_too_small_and_geographic_crs_are_errors():
    m = toy_map((50, 50))
    with pytest.raises(InputError, match="fewer pixels than samples"):
        S.stratified_design(m, make_grid(m.shape), n_total=300, allocation="equal", nodata=0)
    with pytest.raises(InputError, match="geographic"):
        S.stratified_design(m, transform=(0.001, 0, -77, 0, -0.001, -5), crs="EPSG:4326", n_total=10)


def test_transform_and_crs_instead_of_grid_and_masked_map():
    m = np.ma.masked_equal(toy_map(), 0)
    d = S.stratified_design(m, transform=(30, 0, 0, 0, -30, 0), crs="EPSG:32718", n_total=60, seed=1)
    assert d.n == 60 and (d.points["map_class"] != 0).all()


def test_mercator_areas_are_true_areas():
    m = np.ones((100, 100), np.uint8)
    g = make_grid(m.shape, crs="EPSG:3857", x0=-8_500_000, y0=-600_000)
    d = S.stratified_design(m, g, n_total=10, seed=1)
    assert d.strata["area_ha"][0] == pytest.approx(g.area_ha(m == 1))
    assert d.strata["area_ha"][0] < 100 * 100 * 0.09


# --------------------------------------------------------------------------- simple and systematic


def test_simple_random():
    m = toy_map()
    g = make_grid(m.shape)
    d = S.simple_random_design(m, g, n=100, nodata=0, seed=4)
    assert d.n == 100 and set(d.points["stratum"]) == {S.ALL}
    row, col = pixel_of(d, g)
    assert (m[row, col] != 0).all()
    assert d.strata["mapped_px"].tolist() == [int((m != 0).sum())]
    pd.testing.assert_frame_equal(d.points, S.simple_random_design(m, g, n=100, nodata=0, seed=4).points)


def test_systematic_spacing_and_random_start():
    m = np.ones((300, 300), np.uint8)
    g = make_grid(m.shape)
    d = S.systematic_design(m, g, spacing_m=600, seed=5)
    xs, ys = np.unique(d.points["x"]), np.unique(d.points["y"])
    assert np.allclose(np.diff(xs), 600) and np.allclose(np.diff(ys), 600)
    assert d.n == len(xs) * len(ys) == 15 * 15
    starts = {S.systematic_design(m, g, spacing_m=600, seed=s).params["start_col"] for s in range(10)}
    assert len(starts) > 1
    n = S.systematic_design(m, g, n=400, seed=1)
    assert n.params["spacing_m"] == 450 and n.n == 400  # √(300² · 30² / 400) = 450 m: 20 × 20 points
    masked = m.copy()
    masked[:150] = 0
    half = S.systematic_design(masked, g, spacing_m=600, nodata=0, seed=5)
    assert (half.points["row"] >= 150).all()


# --------------------------------------------------------------------------- project scale


def test_project_scale_design_is_fast():
    n = 3472
    rng = np.random.default_rng(0)
    m = np.ones((n, n), np.uint8)
    m[:, : n // 3] = 5
    m[rng.random((n, n)) < 0.005] = 2
    g = make_grid(m.shape)
    t = time.perf_counter()
    d = S.stratified_design(m, g, n_total=1000, allocation="minimum", min_per_stratum=100, seed=42)
    elapsed = time.perf_counter() - t
    assert d.n == 1000 and (d.points["stratum"] == 2).sum() == 100
    assert elapsed < 3.0


# --------------------------------------------------------------------------- export


def test_export_columns_and_geopackage(tmp_path):
    import geopandas as gpd

    m = toy_map()
    g = make_grid(m.shape)
    d = S.stratified_design(m, g, n_total=90, allocation="equal", nodata=0, seed=1)
    paths = S.export_points(d, tmp_path / "out")
    csv = pd.read_csv(paths["csv"], keep_default_na=False)
    assert list(csv.columns) == ["id", "x", "y", "lon", "lat", "stratum", "map_class", "ref_class"]
    assert len(csv) == 90 and (csv["ref_class"] == "").all()
    assert csv["lon"].between(-78, -75).all() and csv["lat"].between(-7, -6).all()
    gdf = gpd.read_file(paths["gpkg"], layer="samples")
    assert len(gdf) == 90 and gdf.crs.to_epsg() == 32718
    assert np.allclose(gdf.geometry.x, csv["x"]) and np.allclose(gdf.geometry.y, csv["y"])
    strata = pd.read_csv(paths["strata"])
    assert list(strata.columns) == ["stratum", "mapped_px", "area_ha", "n"]
    assert strata["n"].tolist() == [30, 30, 30]
    assert not list((tmp_path / "out").glob(".*tmp*"))
    if shutil.which("ogrinfo"):
        r = subprocess.run(["ogrinfo", "-so", str(paths["gpkg"]), "samples"], capture_output=True, text=True)
        assert r.returncode == 0 and "Feature Count: 90" in r.stdout
    # the exported files read back as labels once labelled
    csv["ref_class"] = csv["map_class"]
    csv.to_csv(tmp_path / "labelled.csv", index=False)
    labels = L.read_labels(tmp_path / "labelled.csv", known_classes=[1, 2, 5], map_extent=g)
    assert labels["stratum"].tolist() == d.points["stratum"].tolist()
    gdf["ref_class"] = gdf["map_class"].astype(str)
    gdf.to_file(tmp_path / "labelled.gpkg", layer="samples")
    assert len(L.read_labels(tmp_path / "labelled.gpkg", known_classes=[1, 2, 5], map_extent=g)) == 90


# --------------------------------------------------------------------------- label import


def write(tmp_path, text, name="labels.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


GOOD = "id,x,y,stratum,map_class,ref_class\n" + "".join(
    f"{i},{300015 + 30 * i},{9299985},{c},{c},{c}\n" for i, c in enumerate([1, 1, 2, 2, 5, 5], start=1))


def test_read_labels_good(tmp_path):
    df = L.read_labels(write(tmp_path, GOOD), known_classes=[1, 2, 5],
                       map_extent=(300000, 9290000, 310000, 9300000))
    assert list(df.columns) == ["id", "x", "y", "stratum", "map_class", "ref_class"]
    assert df["ref_class"].tolist() == [1, 1, 2, 2, 5, 5]


def test_unlabelled_points_are_named(tmp_path):
    text = GOOD.replace("1,300045,9299985,1,1,1", "1,300045,9299985,1,1,").replace(
        "5,300165,9299985,5,5,5", "5,300165,9299985,5,5, ")
    with pytest.raises(InputError, match=r"2 sample\(s\) are unlabelled.*id 1, 5"):
        L.read_labels(write(tmp_path, text))


def test_many_bad_rows_listed_up_to_ten(tmp_path):
    text = "id,stratum,map_class,ref_class\n" + "".join(f"{i},1,1,\n" for i in range(1, 26))
    with pytest.raises(InputError, match=r"id 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 15 more"):
        L.read_labels(write(tmp_path, text))


def test_unknown_class(tmp_path):
    text = GOOD.replace("6,300195,9299985,5,5,5", "6,300195,9299985,5,5,7")
    with pytest.raises(InputError, match=r"not in the legend \(7\): id 6"):
        L.read_labels(write(tmp_path, text), known_classes=[1, 2, 5])


def test_points_outside_map(tmp_path):
    text = GOOD.replace("3,300105,", "3,900105,")
    with pytest.raises(InputError, match=r"outside the map.*id 3"):
        L.read_labels(write(tmp_path, text), map_extent=make_grid((100, 100)))


def test_duplicate_ids(tmp_path):
    text = GOOD.replace("4,300135", "2,300135")
    with pytest.raises(InputError, match=r"duplicate id\(s\) 2"):
        L.read_labels(write(tmp_path, text))


def test_missing_columns(tmp_path):
    with pytest.raises(InputError, match=r"lacks column\(s\) ref_class \(it has id, stratum, map_class\)"):
        L.read_labels(write(tmp_path, "id,stratum,map_class\n1,1,1\n"))
    with pytest.raises(InputError, match="does not exist"):
        L.read_labels(tmp_path / "nope.csv")


# --------------------------------------------------------------------------- strata import


def test_read_strata(tmp_path):
    px = write(tmp_path, "stratum,mapped_px\n1,100\n2,10\n", "px.csv")
    assert L.read_strata(px, pixel_area_ha=0.09)["area_ha"].tolist() == pytest.approx([9.0, 0.9])
    with pytest.raises(InputError, match="--pixel-area-ha"):
        L.read_strata(px)
    ha = write(tmp_path, "stratum,area_ha\n1,100.5\nbuffer,10\n", "ha.csv")
    assert L.read_strata(ha)["stratum"].tolist() == [1, "buffer"]
    with pytest.raises(InputError, match="negative area_ha for stratum/strata 2"):
        L.read_strata(write(tmp_path, "stratum,area_ha\n1,5\n2,-1\n", "neg.csv"))
    with pytest.raises(InputError, match="duplicate stratum/strata 1"):
        L.read_strata(write(tmp_path, "stratum,area_ha\n1,5\n1,3\n", "dup.csv"))
    with pytest.raises(InputError, match=r"lacks column\(s\) area_ha \(or mapped_px\) \(it has stratum, ha\)"):
        L.read_strata(write(tmp_path, "stratum,ha\n1,5\n", "miss.csv"))


def test_samples_and_strata_from_a_spanish_excel_export_read_as_the_plain_csv(tmp_path):
    # Excel on a Spanish Windows: ';' separators, decimal commas, Windows-1252 text, CRLF line ends
    plain_labels = L.read_labels(write(tmp_path, GOOD), map_extent=(300000, 9290000, 310000, 9300000))
    excel = GOOD.replace(",", ";").replace("\n", "\r\n").replace(";9299985;", ";9299985,5;").replace(
        "id;x", "id;x")
    path = tmp_path / "muestras.csv"
    path.write_bytes(excel.encode("cp1252"))
    labels = L.read_labels(path, map_extent=(300000, 9290000, 310000, 9300000))
    assert labels["y"].tolist() == [9_299_985.5] * 6  # "9299985,5": a decimal comma
    pd.testing.assert_frame_equal(labels.drop(columns="y"), plain_labels.drop(columns="y"))
    strata = tmp_path / "estratos.csv"
    strata.write_bytes("stratum;area_ha\r\n1;1.234,5\r\nbosque ribereño;10,25\r\n".encode("cp1252"))
    table = L.read_strata(strata)
    assert table["stratum"].tolist() == [1, "bosque ribereño"]
    assert table["area_ha"].tolist() == [1234.5, 10.25]


def test_a_blank_line_keeps_the_row_numbers_of_the_messages(tmp_path):
    text = "stratum,area_ha\n1,5\n\n,3\n"  # the stratum missing on spreadsheet row 4
    with pytest.raises(InputError, match="empty stratum at row 4"):
        L.read_strata(write(tmp_path, text, "gap.csv"))
