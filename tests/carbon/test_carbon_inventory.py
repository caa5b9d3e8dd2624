"""icam.carbon.inventory and icam.simulate.inventory: a tree-inventory CSV to carbon stocks per
stratum — a hand-made file worked by hand (Chave et al. 2014 eq. 4), bad files, the demo's simulated
inventory against its known truth, and BIOMASS's Nouragues plot NB1 (../shared/data/inventory)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from icam.carbon.inventory import (
    GIVEN_WD_SD_G_CM3,
    fit_height_models,
    inventory_stocks,
    plot_agb_monte_carlo,
    read_tree_inventory,
    stocks_from_inventory,
    tree_wood_density,
)
from icam.carbon.stocks import Z95
from icam.carbon.wood_density import WoodDensityTable
from icam.core.errors import InputError
from icam.simulate.inventory import (
    DEFAULT_STRATA,
    TREE_COLUMNS,
    write_inventory,
)

HEADER = "plot,stratum,plot_area_ha,d_cm,family,genus,species,h_m,wd_g_cm3\n"
NO_ERRORS = {"d_sd_cm": None, "allometric_sd": 0.0, "given_wd_sd_g_cm3": 0.0, "measured_h_sd_m": 0.0}
ROOT_TO_SHOOT = {"lowland_premontane": 0.37, "montane": 0.27, "upper_montane": 0.27}


def _write(tmp_path: Path, text: str | bytes, name: str = "trees.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def _eq4_kg(wd, d, h):
    return 0.0673 * (wd * d * d * h) ** 0.976


# --------------------------------------------------------------------------- (a) by hand

# Plot P1 (0.25 ha): three trees (D cm, H m, WD g/cm³); plot P2 (0.25 ha): two trees.
P1 = [(25.0, 22.0, 0.60), (40.0, 30.0, 0.72), (12.5, 14.0, 0.45)]
P2 = [(31.0, 26.5, 0.55), (18.2, 17.0, 0.81)]


def _hand_csv(tmp_path: Path) -> Path:
    rows = [f"P1,terra_firme,0.25,{d},Fabaceae,Inga,edulis,{h},{wd}" for d, h, wd in P1]
    rows += [f"P2,terra_firme,0.25,{d},,,,{h},{wd}" for d, h, wd in P2]
    return _write(tmp_path, HEADER + "\n".join(rows) + "\n")


def test_read_hand_made_inventory(tmp_path):
    inv = read_tree_inventory(_hand_csv(tmp_path))
    assert inv.n_trees == 5 and inv.plot_ids == ("P1", "P2") and inv.strata == ("terra_firme",)
    assert inv.row.tolist() == [2, 3, 4, 5, 6]  # spreadsheet rows: the header is row 1
    np.testing.assert_array_equal(inv.d_cm, [25.0, 40.0, 12.5, 31.0, 18.2])
    assert inv.plot_areas_ha() == {"P1": 0.25, "P2": 0.25}
    assert inv.genus.tolist() == ["Inga"] * 3 + ["", ""]
    assert json.dumps(inv.to_dict())


def test_plot_agb_equals_chave_eq4_by_hand(tmp_path):
    inv = read_tree_inventory(_hand_csv(tmp_path))
    # Chave et al. 2014 eq. 4 by hand: Σ 0.0673 (ρ D² H)^0.976 kg / 1000 / 0.25 ha.
    p1 = sum(0.0673 * (wd * d ** 2 * h) ** 0.976 for d, h, wd in P1) / 1000 / 0.25
    p2 = sum(0.0673 * (wd * d ** 2 * h) ** 0.976 for d, h, wd in P2) / 1000 / 0.25
    # 0.0673 × (0.60 × 25² × 22)^0.976 = 447.17 kg; 1809.94 kg; 56.15 kg → 2.313 Mg / 0.25 ha.
    assert p1 == pytest.approx((447.17 + 1809.94 + 56.15) / 1000 / 0.25, rel=1e-5)
    wood = tree_wood_density(inv, given_wd_sd_g_cm3=0.0)
    mc = plot_agb_monte_carlo(inv, wood, {}, n_draws=5, seed=0, d_sd_cm=None, allometric_sd=0.0)
    np.testing.assert_allclose(mc.draws_mg_ha, np.tile([p1, p2], (5, 1)), rtol=1e-12)
    # Through the stratum: mean of the two plots, no measurement error; BGB by R, carbon by CF.
    stock = stocks_from_inventory(inv, strata={"terra_firme": 0.37, "other": 0.2}, wood_density=None, n_draws=5,
                                  **NO_ERRORS)
    assert list(stock) == ["terra_firme"]
    s = stock["terra_firme"]
    assert s.n_plots == 2 and s.source == "plots"
    assert s.agb_mg_ha == pytest.approx((p1 + p2) / 2, rel=1e-12)
    assert s.carbon_tc_ha == pytest.approx((p1 + p2) / 2 * 1.37 * 0.47, rel=1e-12)
    assert s.se_measurement_tc_ha == pytest.approx(0.0, abs=1e-9)
    assert s.se_sampling_tc_ha == pytest.approx(abs(p1 - p2) / 2 * 1.37 * 0.47, rel=1e-9)  # s/√2 with m = 2


def test_wood_density_error_varies_between_draws(tmp_path):
    inv = read_tree_inventory(_hand_csv(tmp_path))
    mc = plot_agb_monte_carlo(inv, tree_wood_density(inv), {}, n_draws=50, seed=1, d_sd_cm=None, allometric_sd=0.0)
    assert mc.sd_mg_ha.min() > 0.01 * mc.mean_mg_ha.min()


def test_wood_density_sd_of_given_values(tmp_path):
    inv = read_tree_inventory(_hand_csv(tmp_path))
    assert np.all(tree_wood_density(inv).sd_g_cm3 == GIVEN_WD_SD_G_CM3)
    table = WoodDensityTable(["Fabaceae"] * 12, ["Inga"] * 12, ["edulis"] * 12, np.linspace(0.5, 0.7, 12))
    wood = tree_wood_density(inv, table)
    np.testing.assert_allclose(wood.sd_g_cm3, table.level_sd["species"])
    assert wood.level_counts() == {"given": 5}


def test_lookup_fills_missing_wood_density(tmp_path):
    text = HEADER + "P1,a,0.1,20,Fabaceae,Inga,edulis,,\nP1,a,0.1,30,Fabaceae,Inga,sp.,,0.5\nP1,a,0.1,25,,,,,\n"
    inv = read_tree_inventory(_write(tmp_path, text))
    table = WoodDensityTable(["Fabaceae"] * 12, ["Inga"] * 12, ["edulis"] * 12, np.full(12, 0.61))
    wood = tree_wood_density(inv, table)
    # The unnamed tree takes its plot's mean of the table's values (BIOMASS), not of the given ones.
    assert wood.level.tolist() == ["species", "given", "stand"]
    np.testing.assert_allclose(wood.wd_g_cm3, [0.61, 0.5, 0.61])
    with pytest.raises(InputError, match="2 trees .* have no wd_g_cm3"):
        tree_wood_density(inv)


# --------------------------------------------------------------------------- (b) bad files


GOOD = ["P1,a,0.5,12.3,,,,,", "P1,a,0.5,20,,,,,", "P1,a,0.5,31,,,,,", "P2,a,0.5,15,,,,,"]


def _message(tmp_path, text) -> str:
    with pytest.raises(InputError) as exc:
        read_tree_inventory(_write(tmp_path, text))
    message = str(exc.value)
    assert "\n" not in message and "trees.csv" in message
    return message


def test_missing_columns_named(tmp_path):
    message = _message(tmp_path, "plot,area,D\nP1,0.5,12\n")
    assert "lacks the column(s) stratum, plot_area_ha, d_cm" in message and "found: plot, area, d" in message


@pytest.mark.parametrize("bad, expected", [
    ("abc", "d_cm is not a number on row 4"),
    ("12,5", None),  # a decimal comma shifts the columns: caught as a non-number or a bad value
    ("0", "d_cm must lie in (0, 500] cm on row 4"),
    ("-3", "d_cm must lie in (0, 500] cm on row 4"),
    ("612", "d_cm must lie in (0, 500] cm on row 4"),
    ("", "d_cm is missing on row 4"),
    ("inf", "d_cm must lie in (0, 500] cm on row 4"),
])
def test_bad_diameter_on_row_4(tmp_path, bad, expected):
    rows = list(GOOD)
    rows[2] = f"P1,a,0.5,{bad},,,,,"
    message = _message(tmp_path, HEADER + "\n".join(rows) + "\n")
    assert "row 4" in message
    if expected:
        assert expected in message


def test_plot_with_two_areas_or_strata(tmp_path):
    rows = list(GOOD)
    rows[2] = "P1,a,1,31,,,,,"
    message = _message(tmp_path, HEADER + "\n".join(rows) + "\n")
    assert "plot 'P1' has 2 different plot_area_ha values: 0.5 (rows 2, 3), 1.0 (row 4)" in message
    rows[2] = "P1,b,0.5,31,,,,,"
    message = _message(tmp_path, HEADER + "\n".join(rows) + "\n")
    assert "plot 'P1' has 2 different stratum values: a (rows 2, 3), b (row 4)" in message


def test_several_problems_in_one_message(tmp_path):
    rows = ["P1,a,0.5,12,,,,150,", ",a,0.5,20,,,,abc,2.5", "P1,,5000,31,,,,,", "P2,a,0.5,15,,,,0,"]
    message = _message(tmp_path, HEADER + "\n".join(rows) + "\n")
    for part in ("plot is empty on row 3", "stratum is empty on row 4", "plot_area_ha must lie in (0, 100] ha on row 4",
                 "h_m is not a number on row 3", "h_m must lie in (0, 120] m on rows 2, 5",
                 "wd_g_cm3 must lie in [0.08, 1.39] g/cm³ on row 3"):
        assert part in message


def test_blank_lines_keep_spreadsheet_row_numbers(tmp_path):
    text = HEADER + GOOD[0] + "\n\n" + GOOD[1] + "\nP1,a,0.5,x,,,,,\n"
    assert "d_cm is not a number on row 5" in _message(tmp_path, text)
    inv = read_tree_inventory(_write(tmp_path, HEADER + GOOD[0] + "\n,,,,,,,,\n" + GOOD[1] + "\n"))
    assert inv.row.tolist() == [2, 4]


def test_many_bad_rows_are_summarised(tmp_path):
    rows = [f"P1,a,0.5,{'x' if i % 2 else 20},,,,," for i in range(40)]
    assert "rows 3, 5, 7, 9, 11, 13 and 14 more" in _message(tmp_path, HEADER + "\n".join(rows) + "\n")


@pytest.mark.parametrize("content, expected", [
    (b"", "is empty"),
    (HEADER.encode(), "has a header but no tree rows"),
    ("plot,stratum,plot_area_ha,d_cm,genus\nP1,a,0.5,12,Señal\n".encode("latin-1"), "is not UTF-8"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "not UTF-8"),
    (b'plot,stratum,plot_area_ha,d_cm\n"P1,a,0.5,12\n', "not a readable CSV"),
])
def test_unreadable_files(tmp_path, content, expected):
    assert expected in _message(tmp_path, content)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_tree_inventory(tmp_path / "nope.csv")


def test_header_case_bom_and_extra_columns(tmp_path):
    text = "\ufeffPlot, Stratum ,PLOT_AREA_HA,D_cm,notes\nP1,a,0.5,12,ok\nP1,a,0.5,NA,\n"
    assert "d_cm is missing on row 3" in _message(tmp_path, text)
    inv = read_tree_inventory(_write(tmp_path, text.replace("NA", "20")))
    assert inv.n_trees == 2 and np.isnan(inv.h_m).all() and inv.family.tolist() == ["", ""]


def test_unknown_stratum_and_too_few_heights(tmp_path):
    inv = read_tree_inventory(_hand_csv(tmp_path))
    with pytest.raises(InputError, match="'terra_firme', not among the carbon strata") as exc:
        stocks_from_inventory(inv, strata={"montane": 0.27}, wood_density=None)
    assert "'montane'" in str(exc.value)
    text = HEADER + "\n".join(f"P{i % 2},a,0.5,{10 + i},,,,{'' if i % 3 else 10 + i / 2},0.6" for i in range(40))
    inv = read_tree_inventory(_write(tmp_path, text))
    with pytest.raises(InputError, match="stratum 'a' has 14 trees with a measured h_m; at least 20"):
        fit_height_models(inv)
    with pytest.raises(InputError, match="the inventory has 14 trees"):
        fit_height_models(inv, scope="inventory")
    with pytest.raises(InputError, match="at least 2 are needed"):
        one_plot = HEADER + "P1,a,0.5,12,,,,15,0.6\nP1,a,0.5,20,,,,18,0.6\n"
        stocks_from_inventory(read_tree_inventory(_write(tmp_path, one_plot)), strata={"a": 0.3}, wood_density=None)


# --------------------------------------------------------------------------- (c) simulated inventory


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sim")
    truth = write_inventory(folder, seed=3, strata=DEFAULT_STRATA)
    inv = read_tree_inventory(folder / truth["files"]["trees"])
    table = WoodDensityTable.from_csv(folder / truth["files"]["wood_density"])
    result = inventory_stocks(inv, strata=ROOT_TO_SHOOT, wood_density=table, region="SouthAmericaTrop",
                              n_draws=500, seed=0)
    return folder, truth, inv, table, result


def test_simulated_files_and_truth(simulated, tmp_path):
    folder, truth, inv, table, _ = simulated
    assert truth["simulated"] is True and "SIMULATED" in truth["note"]
    assert json.loads(json.dumps(truth)) == truth
    with open(folder / truth["files"]["trees"], encoding="utf-8") as fh:
        assert tuple(next(csv.reader(fh))) == TREE_COLUMNS
    with open(folder / truth["files"]["wood_density"], encoding="utf-8") as fh:
        assert {r["reference"] for r in csv.DictReader(fh)} == {"simulated (icam demo)"}
    assert len(table) >= 10 * 26 and all(math.isfinite(v) for v in table.level_sd.values())
    strata = truth["strata"]
    assert strata["upper_montane"]["n_plots"] == 0 and strata["upper_montane"]["agb_mg_ha"] is None
    assert (strata["lowland_premontane"]["n_plots"], strata["montane"]["n_plots"]) == (12, 10)
    assert inv.strata == ("lowland_premontane", "montane") and inv.n_trees == truth["n_trees"]
    assert 2000 <= truth["n_trees"] <= 8000
    for name in ("lowland_premontane", "montane"):
        s = strata[name]
        assert s["agb_mg_ha"] == pytest.approx(np.mean(list(s["plot_agb_mg_ha"].values())))
        assert s["agb_mg_ha"] == pytest.approx(s["target_agb_mg_ha"], rel=0.15)
        assert 0.2 < s["n_heights_measured"] / s["n_trees"] < 0.4
    # Same seed, byte-identical files; another seed, other trees.
    again = write_inventory(tmp_path, seed=3)
    assert again == truth
    for rel in truth["files"].values():
        assert (tmp_path / rel).read_bytes() == (folder / rel).read_bytes()
    other = write_inventory(tmp_path / "other", seed=4)
    assert other["strata"]["montane"]["agb_mg_ha"] != strata["montane"]["agb_mg_ha"]


def test_simulated_stocks_recover_the_truth(simulated):
    _, truth, _, _, result = simulated
    assert list(result.stocks) == ["lowland_premontane", "montane"]  # upper_montane: no plots, absent
    for name, stock in result.stocks.items():
        true_agb = truth["strata"][name]["agb_mg_ha"]
        factor = (1 + ROOT_TO_SHOOT[name]) * 0.47
        se_agb = stock.se_tc_ha / factor
        assert stock.n_plots == truth["strata"][name]["n_plots"]
        assert abs(stock.agb_mg_ha - true_agb) < 3 * se_agb
        assert stock.agb_mg_ha == pytest.approx(true_agb, rel=0.15)
        lo, hi = stock.ci95_tc_ha
        assert lo < true_agb * factor < hi
        assert hi - lo == pytest.approx(2 * Z95 * stock.se_tc_ha)
        assert 0 < stock.se_measurement_tc_ha < stock.se_sampling_tc_ha
    levels = result.wood_density.level_counts()
    assert set(levels) <= {"species", "genus", "family", "stand", "dataset"} and levels["species"] > levels["genus"] > 0
    assert set(result.height_models) == {"lowland_premontane", "montane"}
    lowland, montane = (result.height_models[k].predict([40.0])[0] for k in ("lowland_premontane", "montane"))
    assert lowland > montane  # montane trees are shorter (the simulated laws)
    assert json.dumps(result.to_dict())


def test_simulated_stocks_reproducible(simulated):
    _, _, inv, table, result = simulated
    kw = {"strata": ROOT_TO_SHOOT, "wood_density": table, "region": "SouthAmericaTrop", "n_draws": 500}
    same = stocks_from_inventory(inv, seed=0, **kw)
    assert {k: v.to_dict() for k, v in same.items()} == {k: v.to_dict() for k, v in result.stocks.items()}
    other = stocks_from_inventory(inv, seed=1, **kw)
    assert other["montane"].agb_mg_ha != same["montane"].agb_mg_ha
    assert other["montane"].agb_mg_ha == pytest.approx(same["montane"].agb_mg_ha, rel=0.01)


# --------------------------------------------------------------------------- (d) BIOMASS's Nouragues NB1


@pytest.fixture
def nb1_csv(shared_data, tmp_path):
    """NB1 (1 ha, 542 trees with D, WD and H) as an icam inventory of four 0.25-ha quarters."""
    src = shared_data / "inventory" / "NouraguesPlot.csv"
    if not src.is_file():
        pytest.skip("../shared/data/inventory/NouraguesPlot.csv not found")
    with open(src, newline="", encoding="utf-8") as fh:
        trees = list(csv.DictReader(fh))
    lines = [f"NB1-{int(float(t['xRel']) >= 50)}{int(float(t['yRel']) >= 50)},terra_firme,0.25,{t['D']},,,,"
             f"{t['H']},{t['WD']}" for t in trees]
    return _write(tmp_path, HEADER + "\n".join(lines) + "\n"), trees


def test_nouragues_nb1(nb1_csv, tmp_path):
    path, trees = nb1_csv
    inv = read_tree_inventory(path)
    assert inv.n_trees == 542 and len(inv.plot_ids) == 4
    by_hand = sum(_eq4_kg(float(t["WD"]), float(t["D"]), float(t["H"])) for t in trees) / 1000.0  # Mg on 1 ha
    assert by_hand == pytest.approx(463.5886, abs=1e-3)  # as test_carbon_stocks
    exact = stocks_from_inventory(inv, strata={"terra_firme": 0.37}, wood_density=None, n_draws=3, **NO_ERRORS)
    assert exact["terra_firme"].agb_mg_ha == pytest.approx(by_hand, rel=1e-12)  # equal quarters: mean = whole
    mc = stocks_from_inventory(inv, strata={"terra_firme": 0.37}, wood_density=None, n_draws=800, seed=2)
    assert mc["terra_firme"].agb_mg_ha == pytest.approx(by_hand, rel=0.015)
    # Two trees in three lose their height: the quarters' log2 model fills them, within 5 %.
    text = path.read_text(encoding="utf-8").splitlines()
    blanked = [text[0]] + [line if i % 3 == 0 else line.rsplit(",", 2)[0] + ",," + line.rsplit(",", 1)[1]
                           for i, line in enumerate(text[1:])]
    inv2 = read_tree_inventory(_write(tmp_path, "\n".join(blanked) + "\n", "nb1_partial.csv"))
    assert np.isfinite(inv2.h_m).sum() == 181
    partial = stocks_from_inventory(inv2, strata={"terra_firme": 0.37}, wood_density=None, n_draws=200, **NO_ERRORS)
    assert partial["terra_firme"].agb_mg_ha == pytest.approx(by_hand, rel=0.05)
