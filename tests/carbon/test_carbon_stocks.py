"""icam.carbon.allometry and icam.carbon.stocks: Chave et al. 2014 allometry, heights, wood density,
plot AGB, Monte Carlo propagation and stratum carbon stocks, on the BIOMASS package's Nouragues data
(../shared/data/inventory) and on constructed cases."""

from __future__ import annotations

import csv
import functools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icam.carbon.allometry import (
    CO2_PER_C,
    FELDPAUSCH_REGIONS,
    HeightModel,
    agb_chave2014_eq4_kg,
    agb_chave2014_eq7_kg,
    bgb_from_agb,
    carbon_from_biomass,
    co2e_from_carbon,
    compare_height_models,
    feldpausch_height,
    load_feldpausch_coefficients,
)
from icam.carbon.stocks import (
    IPCC_DEFAULT,
    MonteCarloAGB,
    ipcc_default_stock,
    monte_carlo_agb,
    plot_agb_per_ha,
    stratum_stock,
)
from icam.carbon.wood_density import WoodDensityTable
from icam.core.errors import InputError

# BIOMASS vignette "Estimating stand biomass" (github.com/umr-amap/BIOMASS, articles/Vignette_BIOMASS.md):
# modelHD(NouraguesHD$D, NouraguesHD$H, useWeight = TRUE) → method: (RSE m, RSElog) ...
BIOMASS_HD_TABLE = {"log1": (4.700088, 0.2472750), "log2": (4.329727, 0.2240379),
                    "weibull": (4.307951, None), "michaelis": (4.294488, None)}
# ... and AGBmonteCarlo over the four NouraguesTrees plots (log2 model, Dpropag = "chave2004", WD errors):
# total meanAGB 1671.145 Mg, 95 % credibility 1582.272–1764.058 Mg (GWDD v2 and corrected taxonomy).
BIOMASS_NOURAGUES_MC_TOTAL_MG = 1671.145


def _read(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _float(v):
    return float("nan") if v in ("", "NA") else float(v)


@pytest.fixture
def inventory(shared_data):
    path = shared_data / "inventory"
    if not path.is_dir():
        pytest.skip("../shared/data/inventory not found")
    return path


@functools.lru_cache(maxsize=None)
def _four(folder: str) -> dict:
    """The four NouraguesTrees plots as BIOMASS's vignette treats them: GWDD wood density (stand
    fallback), heights from the weighted log2 model fitted on NouraguesHD. Cached: built once."""
    folder = Path(folder)
    trees = _read(folder / "NouraguesTrees.csv")
    table = WoodDensityTable.from_csv(folder / "wdData.csv")
    wd = table.lookup([t["Family"] for t in trees], [t["Genus"] for t in trees], [t["Species"] for t in trees],
                      stand=[t["Plot"] for t in trees])
    hd = _read(folder / "NouraguesHD.csv")
    model = HeightModel("log2", use_weight=True).fit([_float(r["D"]) for r in hd], [_float(r["H"]) for r in hd])
    d = np.array([float(t["D"]) for t in trees])
    return {"table": table, "wd": wd, "model": model, "d": d, "plots": [t["Plot"] for t in trees]}


@pytest.fixture
def nouragues_four(inventory):
    return _four(str(inventory))


@pytest.fixture
def nb1(inventory):
    rows = _read(inventory / "NouraguesPlot.csv")
    return rows, {k: np.array([float(r[k]) for r in rows]) for k in ("D", "WD", "H")}


# --------------------------------------------------------------------------- allometry by hand


def test_eq4_by_hand_on_nouragues_trees(nb1):
    rows, cols = nb1
    agb = agb_chave2014_eq4_kg(cols["WD"], cols["D"], cols["H"])
    for i in (0, 1, 2, 100, len(rows) - 1):
        wd, d, h = float(rows[i]["WD"]), float(rows[i]["D"]), float(rows[i]["H"])
        assert agb[i] == pytest.approx(0.0673 * (wd * d ** 2 * h) ** 0.976, rel=1e-12)
    # First tree: D 11.459 cm, WD 0.6425 g/cm³, H 12 m → 0.0673 × 1012.4^0.976 ≈ 57.3 kg.
    assert agb[0] == pytest.approx(0.0673 * (0.642510139437562 * 11.4591559026165 ** 2 * 12) ** 0.976, rel=1e-12)
    assert 55 < agb[0] < 60


def test_eq7_by_hand():
    wd, d, e = np.array([0.6, 0.45]), np.array([30.0, 85.0]), np.array([-0.1, 0.05])
    got = agb_chave2014_eq7_kg(wd, d, e)
    for i in range(2):
        ln_d = math.log(d[i])
        expected = math.exp(-1.803 - 0.976 * e[i] + 0.976 * math.log(wd[i]) + 2.673 * ln_d - 0.0299 * ln_d ** 2)
        assert got[i] == pytest.approx(expected, rel=1e-12)
    with pytest.raises(InputError):
        agb_chave2014_eq7_kg(0.6, 30.0, float("nan"))


def test_allometry_refuses_negative_inputs():
    with pytest.raises(InputError):
        agb_chave2014_eq4_kg(-0.5, 20.0, 15.0)
    assert np.isnan(agb_chave2014_eq4_kg(0.5, 20.0, float("nan")))  # missing height stays missing


@settings(max_examples=60, deadline=None)
@given(wd=st.floats(0.08, 1.39), d=st.floats(1.0, 300.0), h=st.floats(1.3, 80.0), f=st.floats(1.001, 3.0),
       e=st.floats(-0.5, 1.5))
def test_agb_non_negative_and_increasing(wd, d, h, f, e):
    base = float(agb_chave2014_eq4_kg(wd, d, h))
    assert base >= 0
    assert float(agb_chave2014_eq4_kg(wd * f, d, h)) > base
    assert float(agb_chave2014_eq4_kg(wd, d * f, h)) > base
    assert float(agb_chave2014_eq4_kg(wd, d, h * f)) > base
    base7 = float(agb_chave2014_eq7_kg(wd, d, e))
    assert base7 >= 0
    assert float(agb_chave2014_eq7_kg(wd * f, d, e)) > base7
    assert float(agb_chave2014_eq7_kg(wd, d * f, e)) > base7


def test_biomass_to_carbon_factors():
    assert float(bgb_from_agb(100.0, 0.37)) == pytest.approx(37.0)
    assert float(carbon_from_biomass(100.0)) == pytest.approx(47.0)
    assert float(co2e_from_carbon(12.0)) == pytest.approx(44.0)
    with pytest.raises(InputError):
        bgb_from_agb(1.0, -0.1)


# --------------------------------------------------------------------------- heights


@pytest.mark.parametrize("method,truth,noise", [("log1", (1.2, 0.55), 0.08), ("log2", (0.6, 1.05, -0.085), 0.08),
                                                ("michaelis", (48.0, 25.0), 1.0), ("weibull", (45.0, 35.0, 0.8), 1.0)])
def test_height_models_recover_known_parameters(method, truth, noise):
    rng = np.random.default_rng(7)
    d = rng.uniform(10, 120, 3000)
    if method.startswith("log"):
        ln_d = np.log(d)
        mean = truth[0] + truth[1] * ln_d + (truth[2] * ln_d ** 2 if method == "log2" else 0)
        h = np.exp(mean + rng.normal(0, noise, d.size))
    elif method == "michaelis":
        h = truth[0] * d / (truth[1] + d) + rng.normal(0, noise, d.size)
    else:
        h = truth[0] * (1 - np.exp(-((d / truth[1]) ** truth[2]))) + rng.normal(0, noise, d.size)
    model = HeightModel(method).fit(d, h)
    np.testing.assert_allclose(model.coef_, truth, rtol=0.05, atol=0.02)
    if method.startswith("log"):
        assert model.rse_log_ == pytest.approx(noise, rel=0.05)
    else:
        assert model.rse_m_ == pytest.approx(noise, rel=0.05)
    assert model.score(d, h) > 0.5


def test_height_models_on_nouragues_hd_match_biomass(inventory):
    hd = _read(inventory / "NouraguesHD.csv")
    d, h = [_float(r["D"]) for r in hd], [_float(r["H"]) for r in hd]
    fits = {f["method"]: f for f in compare_height_models(d, h, use_weight=True)}
    for method, (rse, rse_log) in BIOMASS_HD_TABLE.items():
        assert fits[method]["n"] == 888  # 1,051 trees, 163 without a measured height
        assert fits[method]["rse_m"] == pytest.approx(rse, rel=1e-4 if method == "weibull" else 1e-6)
        if rse_log is not None:
            assert fits[method]["rse_log"] == pytest.approx(rse_log, rel=1e-6)
    unweighted = HeightModel("log2").fit(d, h)  # BIOMASS's default useWeight = FALSE
    assert unweighted.rse_m_ == pytest.approx(4.2227, abs=1e-3)
    assert unweighted.rse_log_ == pytest.approx(0.2215, abs=1e-3)
    # Heights drawn with the residual error centre on the Baskerville-corrected prediction.
    draws = unweighted.sample(np.full(40_000, 30.0), np.random.default_rng(3))
    assert draws.mean() == pytest.approx(float(unweighted.predict(30.0)), rel=0.01)
    with pytest.raises(InputError):
        HeightModel("log2").fit(d[:10], h[:10])


def test_feldpausch_coefficients(inventory):
    coefs = load_feldpausch_coefficients(inventory / "feldCoef.csv")
    assert tuple(coefs) == FELDPAUSCH_REGIONS
    gs = coefs["GuianaShield"]
    assert (gs.a, gs.b, gs.c, gs.rse_m) == (42.845, 0.0433, 0.9372, 5.285)
    assert float(feldpausch_height(50.0, "GuianaShield", coefs)) == pytest.approx(
        42.845 * (1 - math.exp(-0.0433 * 50.0 ** 0.9372)), rel=1e-12)
    assert coefs["Pantropical"].a == 50.874
    with pytest.raises(InputError):
        feldpausch_height(50.0, "Andes", coefs)


# --------------------------------------------------------------------------- wood density


def _small_table():
    # F1: G1 (s1: 0.5, 0.7; genus-only record 0.4), G2 (s2: 0.8); F2: G3 (s3: 0.3, region B).
    return WoodDensityTable(["F1", "F1", "F1", "F1", "F2"], ["G1", "G1", "G1", "G2", "G3"],
                            ["s1", "s1", "sp.", "s2", "s3"], [0.5, 0.7, 0.4, 0.8, 0.3],
                            region=["A", "A", "A", "A", "B"],
                            level_sd={"species": 0.07, "genus": 0.09, "family": 0.12})


def test_wood_density_falls_back_species_genus_family_stand():
    table = _small_table()
    fam = ["F1", "f1", "F1", "F1", "F9", "Indet."]
    gen = ["G1", "g1", "G1", "G9", "G9", "Indet."]
    spe = ["s1", "S1", "sp.", "x", "x", "Indet."]
    est = table.lookup(fam, gen, spe, stand=["p", "p", "p", "p", "p", "q"])
    wd, sd, level = est
    # species: mean(0.5, 0.7); genus G1: mean of its species' means (0.6, 0.4 for the genus-only
    # record); family F1: mean of its genera's means (0.5, 0.8).
    np.testing.assert_allclose(wd[:4], [0.6, 0.6, 0.5, 0.65])
    assert list(level) == ["species", "species", "genus", "family", "stand", "dataset"]
    np.testing.assert_allclose(sd[:4], [0.07, 0.07, 0.09, 0.12])
    ref_p = np.array([0.6, 0.6, 0.5, 0.65])
    assert wd[4] == pytest.approx(ref_p.mean()) and sd[4] == pytest.approx(ref_p.std(ddof=1))
    assert wd[5] == pytest.approx(ref_p.mean())  # stand q has no matched tree → dataset mean
    # Without family the family level is skipped; without stand unmatched trees get the dataset mean.
    est2 = table.lookup(None, gen, spe)
    assert list(est2.level) == ["species", "species", "genus", "dataset", "dataset", "dataset"]
    assert est2.level_shares()["species"] == pytest.approx(2 / 6)
    # Region restricts the records: G3 exists only in region B.
    assert table.lookup(None, ["G3"] * 2, ["s3", "x"], region="B").level.tolist() == ["species", "genus"]
    with pytest.raises(InputError):
        table.lookup(None, ["G3"], ["s3"], region="A")
    with pytest.raises(InputError):
        table.lookup(None, ["Nope"], ["x"], region="C")


def test_wood_density_on_nouragues_trees(nouragues_four):
    table, est = nouragues_four["table"], nouragues_four["wd"]
    # BIOMASS's sd_10 recipe recomputed on the GWDD: mean SD of taxa with ≥ 10 records.
    assert table.level_sd == pytest.approx({"species": 0.0708, "genus": 0.0942, "family": 0.1242}, abs=1e-4)
    counts = est.level_counts()
    assert sum(counts.values()) == 2050
    # This implementation on the uncorrected names and GWDD v1 (BIOMASS's vignette, after correctTaxo and
    # on GWDD v2 without family: 1,635 species, 246 genus, 169 stand).
    assert counts == {"species": 1273, "genus": 604, "family": 79, "stand": 94, "dataset": 0}
    assert np.all((est.wd_g_cm3 > 0.2) & (est.wd_g_cm3 < 1.3))
    assert json.dumps(est.to_dict())


# --------------------------------------------------------------------------- plot AGB


def test_plot_agb_per_ha_nb1_by_hand(nb1):
    rows, cols = nb1
    by_hand = sum(0.0673 * (float(r["WD"]) * float(r["D"]) ** 2 * float(r["H"])) ** 0.976 for r in rows) / 1000.0
    res = plot_agb_per_ha(agb_chave2014_eq4_kg(cols["WD"], cols["D"], cols["H"]), [r["plot"] for r in rows], 1.0)
    assert res.plot_ids == ("NB1",) and int(res.n_trees[0]) == 542
    assert res.agb_mg_ha[0] == pytest.approx(by_hand, rel=1e-12)
    assert res.agb_mg_ha[0] == pytest.approx(463.5886, abs=1e-3)  # the loop above, NB1's 1 ha
    half = plot_agb_per_ha(agb_chave2014_eq4_kg(cols["WD"], cols["D"], cols["H"]), None, {"plot": 0.5})
    assert half.agb_mg_ha[0] == pytest.approx(2 * by_hand)
    with pytest.raises(InputError):
        plot_agb_per_ha([1.0, float("nan")])


def test_plot_agb_four_nouragues_plots(nouragues_four):
    f = nouragues_four
    agb = agb_chave2014_eq4_kg(f["wd"].wd_g_cm3, f["d"], f["model"].predict(f["d"]))
    res = plot_agb_per_ha(agb, f["plots"], 1.0)
    assert res.plot_ids == ("201", "204", "213", "223")
    np.testing.assert_allclose(res.agb_mg_ha, [476.044, 533.646, 388.707, 302.716], atol=1e-3)
    # Within 3 % of BIOMASS's figure for the same plots (its WD database and names differ from ours).
    assert res.agb_mg.sum() == pytest.approx(BIOMASS_NOURAGUES_MC_TOTAL_MG, rel=0.03)


# --------------------------------------------------------------------------- Monte Carlo


def _mc_nb1(cols, seed, **kw):
    return monte_carlo_agb(cols["D"], cols["WD"], wd_sd_g_cm3=0.0, h_m=cols["H"], h_sd_m=0.5, n_draws=600,
                           seed=seed, **kw)


def test_monte_carlo_reproducible_and_centred(nb1):
    _, cols = nb1
    deterministic = plot_agb_per_ha(agb_chave2014_eq4_kg(cols["WD"], cols["D"], cols["H"])).agb_mg_ha[0]
    a, b, c = _mc_nb1(cols, 11), _mc_nb1(cols, 11), _mc_nb1(cols, 12)
    assert np.array_equal(a.draws_mg_ha, b.draws_mg_ha) and a.to_dict() == b.to_dict()
    assert not np.array_equal(a.draws_mg_ha, c.draws_mg_ha)
    assert a.mean_mg_ha[0] == pytest.approx(c.mean_mg_ha[0], rel=0.01)
    assert a.mean_mg_ha[0] == pytest.approx(deterministic, rel=0.015)
    assert a.q025_mg_ha[0] < deterministic < a.q975_mg_ha[0]
    assert 10 < a.sd_mg_ha[0] < 40  # ≈ 5 % of the plot's AGB
    # Without any error the draws are the deterministic value.
    none = monte_carlo_agb(cols["D"], cols["WD"], wd_sd_g_cm3=0.0, h_m=cols["H"], h_sd_m=0.0, d_sd_cm=None,
                           allometric_sd=0.0, n_draws=5, seed=1)
    np.testing.assert_allclose(none.draws_mg_ha, deterministic, rtol=1e-12)
    # An uncentred log residual inflates the mean by about exp(0.357² / 2) − 1 = 6.6 %.
    raw = _mc_nb1(cols, 11, center_log_residual=False)
    assert raw.mean_mg_ha[0] / a.mean_mg_ha[0] == pytest.approx(math.exp(0.357 ** 2 / 2), rel=0.01)
    # Chunking changes the random stream, not the distribution.
    small = _mc_nb1(cols, 11, max_chunk_elements=5_000)
    assert small.mean_mg_ha[0] == pytest.approx(a.mean_mg_ha[0], rel=0.01)
    assert json.dumps(a.to_dict())


def test_monte_carlo_four_plots_with_height_model(nouragues_four):
    f = nouragues_four
    mc = monte_carlo_agb(f["d"], f["wd"].wd_g_cm3, wd_sd_g_cm3=f["wd"].sd_g_cm3, height_model=f["model"],
                         plot_ids=f["plots"], n_draws=400, seed=5)
    assert mc.draws_mg_ha.shape == (400, 4)
    det = plot_agb_per_ha(agb_chave2014_eq4_kg(f["wd"].wd_g_cm3, f["d"], f["model"].predict(f["d"])), f["plots"])
    np.testing.assert_allclose(mc.mean_mg_ha, det.agb_mg_ha, rtol=0.03)
    assert np.all(mc.q025_mg_ha < det.agb_mg_ha) and np.all(det.agb_mg_ha < mc.q975_mg_ha)
    total = mc.draws_mg_ha.sum(axis=1)
    assert total.mean() == pytest.approx(BIOMASS_NOURAGUES_MC_TOTAL_MG, rel=0.03)
    with pytest.raises(InputError):
        monte_carlo_agb(f["d"], f["wd"].wd_g_cm3, wd_sd_g_cm3=0.0, height_model=f["model"], h_m=f["d"], h_sd_m=0)


# --------------------------------------------------------------------------- strata


def _mc_from(draws) -> MonteCarloAGB:
    draws = np.asarray(draws, dtype=float)
    q = np.quantile(draws, [0.025, 0.975], axis=0)
    ids = tuple(f"p{i}" for i in range(draws.shape[1]))
    return MonteCarloAGB(ids, np.ones(len(ids)), draws.mean(0), draws.std(0, ddof=1), q[0], q[1], draws,
                         draws.shape[0], None, ())


def test_stratum_stock_formulas():
    rng = np.random.default_rng(0)
    plots = _mc_from(np.array([300.0, 340.0, 380.0]) + rng.normal(0, 10, (500, 3)))
    s = stratum_stock(plots, stratum="montane", root_to_shoot=0.27, reference="test")
    means = plots.mean_mg_ha
    factor = 1.27 * 0.47
    assert s.source == "plots" and s.n_plots == 3
    assert s.agb_mg_ha == pytest.approx(means.mean())
    assert s.bgb_mg_ha == pytest.approx(0.27 * means.mean())
    assert s.carbon_tc_ha == pytest.approx(means.mean() * factor)
    assert s.se_sampling_tc_ha == pytest.approx(means.std(ddof=1) / math.sqrt(3) * factor)
    assert s.se_measurement_tc_ha == pytest.approx(plots.draws_mg_ha.mean(axis=1).std(ddof=1) * factor)
    assert s.se_tc_ha == pytest.approx(math.hypot(s.se_sampling_tc_ha, s.se_measurement_tc_ha))
    lo, hi = s.ci95_tc_ha
    assert (hi - lo) / 2 == pytest.approx(1.959964 * s.se_tc_ha, rel=1e-6)
    assert s.co2e_tco2e_ha == pytest.approx(s.carbon_tc_ha * 44 / 12) and CO2_PER_C == 44 / 12
    d = s.to_dict()
    assert d["ci95_low_tco2e_ha"] == pytest.approx(lo * 44 / 12) and json.dumps(d)
    sub = stratum_stock(plots, stratum="two", root_to_shoot=0.37, plot_ids=["p0", "p1"])
    assert sub.agb_mg_ha == pytest.approx(means[:2].mean())
    with pytest.raises(InputError):
        stratum_stock(plots, stratum="one", root_to_shoot=0.37, plot_ids=["p0"])
    with pytest.raises(InputError):
        stratum_stock(plots, stratum="x", root_to_shoot=0.37, plot_ids=["p9", "p0"])


def test_stratum_stock_nouragues(nouragues_four):
    f = nouragues_four
    mc = monte_carlo_agb(f["d"], f["wd"].wd_g_cm3, wd_sd_g_cm3=f["wd"].sd_g_cm3, height_model=f["model"],
                         plot_ids=f["plots"], n_draws=300, seed=9)
    s = stratum_stock(mc, stratum="lowland terra firme", root_to_shoot=0.37)
    assert s.carbon_tc_ha == pytest.approx(mc.mean_mg_ha.mean() * 1.37 * 0.47)
    assert s.se_sampling_tc_ha > s.se_measurement_tc_ha > 0  # four plots differ far more than their errors
    assert s.ci95_tc_ha[0] > 0


def test_ipcc_default_stock_flagged():
    s = ipcc_default_stock("montane", agb_mg_ha=200.0, root_to_shoot=0.27, reference="a table, zone, continent")
    assert s.source == IPCC_DEFAULT and s.n_plots == 0
    assert s.carbon_tc_ha == pytest.approx(200 * 1.27 * 0.47)
    d = s.to_dict()
    assert d["source"] == "IPCC default" and d["se_tc_ha"] is None and d["ci95_low_tc_ha"] is None
    assert json.dumps(d)
    with_se = ipcc_default_stock("montane", agb_mg_ha=200.0, root_to_shoot=0.27, reference="r", agb_se_mg_ha=20.0)
    assert with_se.se_tc_ha == pytest.approx(20 * 1.27 * 0.47)
    with pytest.raises(InputError):
        ipcc_default_stock("montane", agb_mg_ha=200.0, root_to_shoot=0.27, reference=" ")
    with pytest.raises(InputError):
        ipcc_default_stock("montane", agb_mg_ha=-1.0, root_to_shoot=0.27, reference="r")
