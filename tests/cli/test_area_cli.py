"""`icam area estimate` and `icam area design`: the JSON contract, the table, and bad input."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli, write_tif
from icam.forest import area as A

TINIGUA_PX = {1: 1_611_984, 2: 63_375, 5: 711_441}
CLASS_KEYS = {"area_ha", "se_ha", "ci95_ha", "users_accuracy", "users_accuracy_ci95", "producers_accuracy",
              "producers_accuracy_ci95"}


def tinigua_files(shared_data, tmp_path):
    src = shared_data / "tinigua" / "reference_sample_stratified.csv"
    if not src.exists():
        pytest.skip("Tinigua stratified sample not found")
    df = pd.read_csv(src)
    samples = df.assign(stratum=df["map_class"])[["id", "x", "y", "stratum", "map_class", "ref_class", "ref_name"]]
    samples.to_csv(tmp_path / "samples.csv", index=False)
    (tmp_path / "strata.csv").write_text("stratum,mapped_px\n" + "".join(f"{k},{v}\n" for k, v in TINIGUA_PX.items()))
    return tmp_path / "samples.csv", tmp_path / "strata.csv", samples


def test_estimate_json_matches_library_and_contract(shared_data, tmp_path):
    samples_csv, strata_csv, samples = tinigua_files(shared_data, tmp_path)
    code, out = run_cli("area", "estimate", "--samples", samples_csv, "--strata", strata_csv,
                        "--pixel-area-ha", "0.09", "--json")
    assert code == 0, out
    got = json.loads(out)  # nothing but the JSON on the output
    assert {"classes", "overall_accuracy", "overall_accuracy_ci95", "n"} <= set(got)
    assert set(got["classes"]) == {"1", "2", "5"}
    for c in got["classes"].values():
        assert set(c) == CLASS_KEYS
    expected = A.stratified_estimate(samples[["stratum", "map_class", "ref_class"]],
                                     {k: v * 0.09 for k, v in TINIGUA_PX.items()}).to_dict()
    assert got["n"] == 502 == expected["n"]
    assert got["overall_accuracy"] == pytest.approx(expected["overall_accuracy"], rel=1e-12)
    assert got["overall_accuracy_ci95"] == pytest.approx(expected["overall_accuracy_ci95"], rel=1e-12)
    for k in ("1", "2", "5"):
        for key in CLASS_KEYS:
            assert got["classes"][k][key] == pytest.approx(expected["classes"][k][key], rel=1e-12)
    # the published error matrix, and the estimator chosen
    assert got["estimator"] == A.OLOFSSON
    # areas sum to the mapped total; half-widths are 1.96 SE
    total = sum(TINIGUA_PX.values()) * 0.09
    assert sum(c["area_ha"] for c in got["classes"].values()) == pytest.approx(total)
    for c in got["classes"].values():
        assert c["ci95_ha"] == pytest.approx(1.96 * c["se_ha"])
    # user's accuracy of class 2: 43 / 50
    assert got["classes"]["2"]["users_accuracy"] == pytest.approx(43 / 50)


def test_estimate_with_area_ha_and_other_strata_uses_stehman(tmp_path):
    rows = [("a", 1, 1), ("a", 1, 1), ("a", 2, 1), ("a", 1, 2), ("b", 2, 2), ("b", 2, 2), ("b", 1, 2), ("b", 2, 1)]
    pd.DataFrame(rows, columns=["stratum", "map_class", "ref_class"]).to_csv(tmp_path / "s.csv", index=False)
    (tmp_path / "st.csv").write_text("stratum,area_ha\na,300\nb,100\n")
    code, out = run_cli("area", "estimate", "--samples", tmp_path / "s.csv", "--strata", tmp_path / "st.csv", "--json")
    assert code == 0, out
    got = json.loads(out)
    assert got["estimator"] == A.STEHMAN and set(got["classes"]) == {"1", "2"}
    assert sum(c["area_ha"] for c in got["classes"].values()) == pytest.approx(400)


def test_estimate_table(shared_data, tmp_path):
    samples_csv, strata_csv, _ = tinigua_files(shared_data, tmp_path)
    code, out = run_cli("area", "estimate", "--samples", samples_csv, "--strata", strata_csv, "--pixel-area-ha", "0.09")
    assert code == 0, out
    for text in ("Error-adjusted areas", "Overall accuracy: 0.914", "n = 502", "Error matrix, sample counts",
                 "proportions of area", "Olofsson", "287", "0.860 ± 0.097"):
        assert text in out, text


GOOD_SAMPLES = "id,stratum,map_class,ref_class\n1,1,1,1\n2,1,1,2\n3,1,1,1\n4,2,2,2\n5,2,2,1\n6,2,2,2\n"
GOOD_STRATA = "stratum,area_ha\n1,900\n2,100\n"


@pytest.mark.parametrize("samples, strata, extra, needle", [
    (None, GOOD_STRATA, [], "does not exist"),
    ("id,stratum,map_class\n1,1,1\n", GOOD_STRATA, [], "lacks column(s) ref_class"),
    (GOOD_SAMPLES.replace("5,2,2,1", "5,2,2,"), GOOD_STRATA, [], "unlabelled (empty ref_class): id 5"),
    (GOOD_SAMPLES + "7,3,3,3\n8,3,3,3\n", GOOD_STRATA, [], "3 of the sample have no area"),
    (GOOD_SAMPLES.replace("6,2,2,2\n", "").replace("5,2,2,1\n", ""), GOOD_STRATA, [], "fewer than 2 samples"),
    (GOOD_SAMPLES, "stratum,mapped_px\n1,10000\n2,1000\n", [], "--pixel-area-ha"),
    (GOOD_SAMPLES, "stratum,area_ha\n1,900\n2,-100\n", [], "negative area_ha"),
    (GOOD_SAMPLES, "stratum,mapped_px\n1,10000\n2,1000\n", ["--pixel-area-ha", "-1"], "pixel area"),
    (GOOD_SAMPLES.replace("4,2", "3,2"), GOOD_STRATA, [], "duplicate id(s) 3"),
])
def test_estimate_bad_input(tmp_path, samples, strata, extra, needle):
    s = tmp_path / "samples.csv"
    if samples is not None:
        s.write_text(samples)
    st = tmp_path / "strata.csv"
    st.write_text(strata)
    code, out = run_cli("area", "estimate", "--samples", s, "--strata", st, *extra, "--json")
    assert code == 2, out
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), out
    assert needle in out and "Traceback" not in out


def test_estimate_good_small_input(tmp_path):
    (tmp_path / "s.csv").write_text(GOOD_SAMPLES)
    (tmp_path / "st.csv").write_text(GOOD_STRATA)
    code, out = run_cli("area", "estimate", "--samples", tmp_path / "s.csv", "--strata", tmp_path / "st.csv", "--json")
    assert code == 0, out
    assert json.loads(out)["n"] == 6


# --------------------------------------------------------------------------- design


def small_map():
    rng = np.random.default_rng(1)
    m = np.ones((120, 150), np.uint8)
    m[:, 75:] = 5
    m[rng.random(m.shape) < 0.03] = 2
    m[:3] = 0
    return m


def test_design_writes_three_files(tmp_path):
    tif = write_tif(tmp_path / "map.tif", small_map(), nodata=0)
    out = tmp_path / "design"
    code, text = run_cli("area", "design", "--map", tif, "--out", out, "--n", "150", "--allocation", "minimum",
                         "--min-per-stratum", "40", "--seed", "3")
    assert code == 0, text
    for name in ("samples.gpkg", "samples.csv", "strata.csv"):
        assert (out / name).is_file() and name in text
    with open(out / "samples.csv") as f:
        header = next(csv.reader(f))
    assert header == ["id", "x", "y", "lon", "lat", "stratum", "map_class", "ref_class"]
    strata = pd.read_csv(out / "strata.csv")
    assert strata["n"].sum() == 150 and strata.set_index("stratum").loc[2, "n"] == 40
    assert 0 not in strata["stratum"].tolist()
    samples = pd.read_csv(out / "samples.csv")
    assert len(samples) == 150 and (samples["stratum"] == samples["map_class"]).all()
    # same seed, same sample
    code, _ = run_cli("area", "design", "--map", tif, "--out", tmp_path / "again", "--n", "150", "--allocation",
                      "minimum", "--min-per-stratum", "40", "--seed", "3")
    assert pd.read_csv(tmp_path / "again" / "samples.csv").equals(samples)


def test_design_target_se_strata_map_and_other_designs(tmp_path):
    m = small_map()
    tif = write_tif(tmp_path / "map.tif", m, nodata=0)
    strata = m.copy()
    strata[:, 70:80] = 9
    stif = write_tif(tmp_path / "strata.tif", strata)
    code, text = run_cli("area", "design", "--map", tif, "--strata-map", stif, "--out", tmp_path / "a",
                         "--target-se", "0.02", "--expected-ua", "0.8", "--allocation", "equal")
    assert code == 0, text
    st = pd.read_csv(tmp_path / "a" / "strata.csv")
    assert set(st["stratum"]) == {1, 2, 5, 9}
    code, text = run_cli("area", "design", "--map", tif, "--out", tmp_path / "b", "--design", "simple", "--n", "30")
    assert code == 0, text
    assert len(pd.read_csv(tmp_path / "b" / "samples.csv")) == 30
    code, text = run_cli("area", "design", "--map", tif, "--out", tmp_path / "c", "--design", "systematic",
                         "--spacing-m", "300")
    assert code == 0, text
    assert pd.read_csv(tmp_path / "c" / "strata.csv")["stratum"].tolist() == ["all"]


@pytest.mark.parametrize("setup, args, needle", [
    ("nocrs", ["--n", "10"], "no CRS"),
    ("geo", ["--n", "10"], "geographic"),
    ("ok", [], "sample size"),
    ("ok", ["--n", "100000"], "fewer pixels than samples"),
    ("ok", ["--design", "neyman"], "Invalid value"),
    ("missing", ["--n", "10"], "does not exist"),
    ("ok", ["--target-se", "0.01"], "expected user's accuracy"),
    ("badstrata", ["--n", "10"], "not on the map's grid"),
])
def test_design_bad_input(tmp_path, setup, args, needle):
    from affine import Affine

    tif = tmp_path / "map.tif"
    extra = []
    if setup == "nocrs":
        write_tif(tif, small_map(), crs=None)
    elif setup == "geo":
        write_tif(tif, small_map(), crs="EPSG:4326", transform=Affine(0.001, 0, -77, 0, -0.001, -5))
    elif setup in ("ok", "badstrata"):
        write_tif(tif, small_map(), nodata=0)
    if setup == "badstrata":
        write_tif(tmp_path / "s.tif", small_map()[:100])
        extra = ["--strata-map", tmp_path / "s.tif"]
    code, out = run_cli("area", "design", "--map", tif, "--out", tmp_path / "o", *extra, *args)
    assert code == 2, out
    assert needle in out and "Traceback" not in out
    if needle != "Invalid value":  # Typer's own usage errors take several lines
        lines = out.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:"), out


def test_estimate_json_alone_on_stdout_of_the_real_command(tmp_path):
    """CliRunner mixes the streams: run the real entry point once to see stdout holds the JSON only."""
    import subprocess
    import sys

    (tmp_path / "s.csv").write_text(GOOD_SAMPLES)
    (tmp_path / "st.csv").write_text(GOOD_STRATA)
    r = subprocess.run([sys.executable, "-m", "icam", "area", "estimate", "--samples", str(tmp_path / "s.csv"),
                        "--strata", str(tmp_path / "st.csv"), "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["n"] == 6
    r = subprocess.run([sys.executable, "-m", "icam", "area", "estimate", "--samples", str(tmp_path / "nope.csv"),
                        "--strata", str(tmp_path / "st.csv"), "--json"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stdout == "" and r.stderr.startswith("error:") and len(r.stderr.splitlines()) == 1
