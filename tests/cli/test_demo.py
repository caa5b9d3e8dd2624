"""End to end: `icam demo --scale small`, then the outputs a user and a verifier rely on."""

import json
import shutil
import subprocess
from importlib.resources import files
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import rasterio

from conftest import copy_with_methodology, run_cli


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo") / "alto-mayo"
    code, output = run_cli("demo", "--dir", folder, "--scale", "small", "--seed", "7")
    assert code == 0, output
    return folder, output


@pytest.fixture(scope="module")
def issuing_demo(demo, tmp_path_factory):
    """The demo rerun with ``methodology = "VM0048"`` (whose fixed baseline issues credits on this seed; the
    demo's own, the dynamic baseline, issues none here), for the tests of the ledger a run issues into."""
    folder = copy_with_methodology(demo[0], tmp_path_factory.mktemp("issuing") / "alto-mayo", "VM0048")
    code, output = run_cli("run", folder)
    assert code == 0, output
    return folder, output


def _results(folder: Path) -> dict:
    return json.loads((folder / "outputs" / "results.json").read_text())


def test_results_follow_the_schema(demo):
    folder, _ = demo
    schema = json.loads(files("icam").joinpath("schemas/results.schema.json").read_text())
    results = _results(folder)
    jsonschema.validate(results, schema)
    assert results["project"]["area_ha"] > 0
    fc = results["forest_change"]
    assert fc["annual"] and fc["epochs"][0] == 2000 and fc["epochs"][-1] == 2024
    assert {"project_area", "leakage_belt", "reference_region"} <= set(fc["zones"])
    assert any(z.startswith("admin:") for z in fc["zones"])


def test_summary_names_the_report(demo):
    folder, output = demo
    assert "Report:" in output and "report.html" in output
    assert "Forest loss by period" in output
    html = (folder / "outputs" / "report.html").read_text()
    # forest map, loss chart, activity data, risk map, residuals, baseline chart, carbon-accounting chart,
    # agreements map and money chart, enforcement map, monthly chart and patrol-effort chart, and the
    # counterfactual checks' chart
    assert html.count("data:image/png;base64,") == 13
    assert '<h2 id="accounting">Carbon accounting</h2>' in html
    assert "Activity data with uncertainty" in html and "Overall accuracy" in html


def test_activity_data_for_every_period_covers_the_truth(demo):
    """Sample-based loss areas for the HRP and each monitoring period, against the simulator's true areas."""
    folder, _ = demo
    results = _results(folder)
    truth = json.loads((folder / "truth" / "reference_samples.json").read_text())["true_area_ha_by_period"]
    assessments = results["activity_data"]["assessments"]
    assert [(a["start_year"], a["end_year"]) for a in assessments][:2] == [(2000, 2008), (2008, 2012)]
    covered = []
    for a in assessments:
        loss, true_loss = a["classes"]["2"], truth[f"{a['start_year']}-{a['end_year']}"]["2"]
        assert loss["ci95_ha"] == pytest.approx(1.96 * loss["se_ha"])
        assert sum(c["area_ha"] for c in a["classes"].values()) == pytest.approx(sum(a["mapped_area_ha"].values()))
        covered.append(abs(loss["area_ha"] - true_loss) <= loss["ci95_ha"])
    # Not every 95 % CI covers the truth at this small scale: loss the map omits or dates late lies in the
    # stable-forest stratum, where ~150 points (~330 ha each) rarely catch it, so short periods come out low
    # with narrow CIs (the case for a buffer stratum, Olofsson et al. 2014); interpreters err too (docs/methods.md).
    # At project scale (seed 42) all eight periods cover the truth.
    assert covered[0] and sum(covered) >= 5
    table = (folder / "outputs" / "tables" / "activity_data.csv").read_text().splitlines()
    assert len(table) == 1 + 3 * len(assessments)


def test_loss_matches_the_input_tiles(demo):
    """Loss per year in the whole grid equals the lossyear tiles counted in the test over forest > 30 %."""
    folder, _ = demo
    results = _results(folder)
    cover = [rasterio.open(p) for p in sorted((folder / "inputs" / "hansen").glob("*treecover2000*.tif"))]
    loss = [rasterio.open(p) for p in sorted((folder / "inputs" / "hansen").glob("*lossyear*.tif"))]
    mask_files = sorted((folder / "inputs" / "hansen").glob("*datamask*.tif"))
    counts = np.zeros(25)
    for c, lossyear, m in zip(cover, loss, (rasterio.open(p) for p in mask_files)):
        forest = (c.read(1) > 30) & (m.read(1) == 1)
        counts += np.bincount(lossyear.read(1)[forest], minlength=25)
    cell_ha = results["grid"]["nominal_cell_area_ha"]
    reported = np.array([results["forest_change"]["loss_ha"]["grid"][str(y)] for y in range(2001, 2025)])
    # the minimum mapping unit removes specks below 0.5 ha, so the tiles' counts are an upper bound
    assert np.all(reported <= counts[1:] * cell_ha + 1e-6)
    assert np.allclose(reported, counts[1:] * cell_ha, rtol=0.02, atol=0.5)


def test_rasters_are_valid_cogs_with_nodata(demo):
    from rio_cogeo.cogeo import cog_validate

    folder, _ = demo
    rasters = _results(folder)["outputs"]["rasters"]
    assert "rasters/loss_year.tif" in rasters and len(rasters) >= 3
    for name in rasters:
        path = folder / "outputs" / name
        valid, errors, _ = cog_validate(str(path))
        assert valid, (name, errors)
        with rasterio.open(path) as src:
            assert src.nodata is not None
        if shutil.which("gdalinfo"):
            info = subprocess.run(["gdalinfo", str(path)], capture_output=True, text=True, check=True).stdout
            assert "LAYOUT=COG" in info and "NoData Value=" in info


def test_manifest_and_cache(demo):
    folder, _ = demo
    manifest = json.loads((folder / "outputs" / "manifest.json").read_text())
    assert any("lossyear" in i["path"] for i in manifest["inputs"])
    code, output = run_cli("run", folder)
    assert code == 0, output
    again = json.loads((folder / "outputs" / "manifest.json").read_text())
    cached = {s["name"]: s["cached"] for s in again["stages"]}
    assert cached["landscape"] and cached["forest_change"]
    assert _results(folder)["forest_change"] == json.loads(json.dumps(_results(folder)["forest_change"]))


def test_version_and_init(tmp_path):
    code, output = run_cli("--version")
    assert code == 0 and output.startswith("icam ")
    code, output = run_cli("init", tmp_path / "new")
    assert code == 0 and (tmp_path / "new" / "icam.toml").exists()
    code, output = run_cli("init", tmp_path / "new")
    assert code == 2 and output.strip().startswith("error:") and "--force" in output
    # the template names Alto Mayo's inputs, which this folder lacks: one clear line, exit 2, nothing written
    code, output = run_cli("run", tmp_path / "new")
    assert code == 2 and "Traceback" not in output
    assert len(output.strip().splitlines()) == 1 and output.startswith("error:")
    assert not (tmp_path / "new" / "outputs").exists()


def test_design_on_a_projects_period_map(demo, tmp_path):
    """`icam area design --project` samples the period's change map that `icam run` estimates from, in the
    strata its runs use (the demo's: map class + 10 × zone, 1 project area, 2 leakage belt)."""
    import pandas as pd

    from icam.forest.activity import activity_map, activity_zone
    from icam.pipeline.config import load_config
    from icam.pipeline.stages.landscape import load_landscape

    folder, _ = demo
    code, output = run_cli("area", "design", "--project", folder, "--period", "2000-2008", "--out", tmp_path,
                           "--n", "400", "--allocation", "minimum", "--min-per-stratum", "30")
    assert code == 0, output
    points = pd.read_csv(tmp_path / "samples.csv")
    assert len(points) == 400 and (points.groupby("stratum").size() >= 30).all()
    assert (points.stratum % 10 == points.map_class).all() and {12, 22} <= set(points.stratum)
    landscape = load_landscape(load_config(folder))
    classes = activity_map(landscape.forest, activity_zone(landscape.zones, landscape.grid.shape, "reference_region"),
                           2000, 2008)
    rows, cols = rasterio.transform.rowcol(landscape.grid.transform, points.x, points.y)
    assert (classes[np.asarray(rows), np.asarray(cols)] == points.map_class).all()
    code, output = run_cli("area", "design", "--project", folder, "--period", "1990-2008", "--out", tmp_path / "x")
    assert code == 2 and output.startswith("error:") and "1990 is not a year of the forest data" in output


def test_risk_map_ranks_like_the_true_hazard(demo):
    """The chosen map against the simulator's hazard; the VT0007 choice as results.json states it."""
    from scipy.stats import spearmanr

    from icam.simulate.hazard import true_linear_predictor

    folder, _ = demo
    risk = _results(folder)["risk"]
    with rasterio.open(folder / "outputs/rasters/risk_ha_per_year.tif") as src:
        density = src.read(1)
    start = risk["risk_map"]["start_year"]
    with rasterio.open(folder / f"outputs/rasters/forest_{start}.tif") as src:
        forest = src.read(1) == 1
    scored = forest & (density >= 0)
    eta = true_linear_predictor(folder, forest)
    rho = spearmanr(density[scored], eta[scored]).statistic
    assert rho > 0.5  # the hazard's static terms and the edge term, against the map's ranking
    medae = {c["name"]: (c["calibration"]["medae_ha"], c["confirmation"]["medae_ha"]) for c in risk["candidates"]}
    for name, test in risk["vt0007_tests"].items():
        assert test["alternative_passes"] == (medae[name][0] < medae["benchmark"][0]
                                              and medae[name][1] < medae["benchmark"][1])
    if risk["chosen"] != "benchmark":
        chosen = medae[risk["chosen"]]
        assert chosen[0] < medae["benchmark"][0] and chosen[1] < medae["benchmark"][1]
        passing = [n for n, t in risk["vt0007_tests"].items() if t["alternative_passes"]]
        assert chosen[1] == min(medae[n][1] for n in passing)


def test_baseline_allocates_the_projected_quantity(demo):
    folder, _ = demo
    results = _results(folder)
    baseline = results["baseline"]
    projected = baseline["projected_ha_by_year"]
    historical = baseline["historical_ha_by_year"]
    assert projected[min(projected)] == pytest.approx(sum(historical.values()) / len(historical))  # average
    pixel_ha = 0.09
    allocated = baseline["vm0015"]["allocated_ha"]
    cumulative = np.cumsum([allocated[y] for y in sorted(allocated)])
    target = np.cumsum([projected[y] for y in sorted(projected)])
    assert np.all(np.abs(cumulative - target) <= pixel_ha / 2 + 1e-6)
    with rasterio.open(folder / "outputs/rasters/baseline_year.tif") as src:
        years = src.read(1)
    counted = np.bincount(years[years != 65535].ravel(), minlength=max(map(int, allocated)) + 1)
    for year, ha in allocated.items():
        assert counted[int(year)] * pixel_ha == pytest.approx(ha)
    region = baseline["vm0015"]["by_zone"]["reference_region"]
    for zone in ("project_area", "leakage_belt"):
        for year, ha in baseline["vm0015"]["by_zone"][zone].items():
            assert 0 <= ha <= region[year] + 1e-9
    vt = baseline["vt0007"]
    assert vt["ha_per_year"]["reference_region"] == pytest.approx(results["risk"]["risk_map"]["expected_ha_per_year"],
                                                                  rel=1e-4)


ACCOUNTING_KEYS = {"start", "end", "baseline_emissions_tco2e", "project_emissions_tco2e", "leakage_tco2e",
                   "uncertainty_deduction_tco2e", "buffer_tco2e", "credits"}


def _ledger_issuances(folder: Path) -> list:
    from icam import ledger
    from icam.store.db import open_session

    with open_session(folder) as s:
        return ledger.issuances(s, "VCS944")


def test_accounting_per_monitoring_period(demo):
    folder, output = demo
    results = _results(folder)
    periods = results["accounting"]["periods"]
    monitoring = results["periods"]["monitoring"]
    assert [(p["start"], p["end"]) for p in periods] == [(m["start"], m["end"]) for m in monitoring]
    for p in periods:
        assert ACCOUNTING_KEYS <= set(p)
        assert all(p[k] >= 0 for k in ACCOUNTING_KEYS - {"start", "end"})
        assert isinstance(p["credits"], int) and p["credits"] <= p["baseline_emissions_tco2e"]
        assert sum(v["credits"] for v in p["vintages"]) == p["credits"]
        if p["credits"] == 0 and p["net_reductions_tco2e"] > 0:  # withheld: the report must say why
            u = p["uncertainty"]
            assert not u["half_width_pct"] or u["half_width_pct"] > u["rule"]["ineligible_above_pct"]
            assert u["half_width_pct"] is None or u["eligibility"]["half_width_pct_by_source"]
    assert results["accounting"]["methodology"] == "dynamic"
    assert "Credits:" in output


def test_credits_are_issued_once_and_the_ledger_verifies(issuing_demo):
    folder, _ = issuing_demo
    periods = _results(folder)["accounting"]["periods"]
    code, output = run_cli("ledger", "verify", folder)
    assert code == 0, output
    # one issuance per vintage: the period's days in that calendar year, its share of the credits
    expected = [(max(p["start"], f"{v['year']}-01-01"), min(p["end"], f"{v['year']}-12-31"), v["year"], v["credits"],
                 v["buffer_credits"]) for p in periods for v in p["vintages"] if v["credits"] >= 1]
    records = _ledger_issuances(folder)
    assert records, "the VM0048 rerun issues credits on this seed"
    assert [(r.period_start.isoformat(), r.period_end.isoformat(), r.vintage, r.quantity, r.buffer_quantity)
            for r in records] == expected
    # a second run finds every vintage issued with the same credits: nothing new, the ledger still verifies
    code, output = run_cli("run", folder)
    assert code == 0, output
    assert "0 vintage block(s) newly issued" in " ".join(output.split())
    assert _ledger_issuances(folder) == records
    code, output = run_cli("ledger", "verify", folder)
    assert code == 0, output


def test_altering_the_demo_ledger_with_sql_fails_verify(issuing_demo, tmp_path):
    import sqlite3

    folder, _ = issuing_demo
    copy = tmp_path / "copy"
    shutil.copytree(folder / ".icam", copy / ".icam", ignore=shutil.ignore_patterns("cache"))
    with sqlite3.connect(copy / ".icam" / "ledger.sqlite") as db:
        changed = db.execute("UPDATE ledger_accounts SET balance = balance + 1 WHERE kind = 'issuance'")
        assert changed.rowcount == 1
    code, output = run_cli("ledger", "verify", copy)
    assert code == 1 and "balance" in output.lower(), output


@pytest.mark.xfail(reason="issue 15: with the simulator calibrated to the real Alto Mayo (legal protection lowers "
                          "the protected forest's hazard), the VT0007 density baseline of the project area is about "
                          "2.8 times the true counterfactual (small scale, seed 7: 20.5 against 7.4 ha/yr); the "
                          "baselines' fix is issue 15's Deliver 5-6", strict=True)
def test_baseline_of_the_project_area_is_near_the_true_counterfactual(demo):
    """The VT0007 density baseline of the project area (ha/yr) against the simulator's counterfactual loss
    over the baseline's validity years: the credits rest on it."""
    folder, _ = demo
    results = _results(folder)
    vt = results["baseline"]["vt0007"]
    truth = json.loads((folder / "truth" / "hazard.json").read_text())["loss_ha_by_year"]
    counterfactual = [truth["project_area_counterfactual"][str(y)] for y in vt["years"]]
    baseline = vt["ha_per_year"]["project_area"]
    # small scale (seed 7): 44.7 against 31.4 ha/yr, a small project whose few clearings the regional map
    # places imprecisely; at project scale (seed 42) the density gives 1,573 against 1,436 ha/yr (+9.5 %)
    assert baseline == pytest.approx(np.mean(counterfactual), rel=0.5)
    actual = [truth["project_area"][str(y)] for y in vt["years"]]
    assert baseline > np.mean(actual)  # the project halves the hazard: its baseline lies above what happened


def test_stocks_by_stratum_and_the_ipcc_default_flag(demo):
    folder, _ = demo
    accounting = _results(folder)["accounting"]
    stocks = {s["stratum"]: s for s in accounting["stocks"]}
    truth = json.loads((folder / "truth" / "inventory.json").read_text())["strata"]
    for name in ("lowland_premontane", "montane"):
        s = stocks[name]
        assert s["source"] == "plots" and s["n_plots"] == truth[name]["n_plots"]
        assert s["agb_mg_ha"] == pytest.approx(truth[name]["agb_mg_ha"], rel=0.15)
    assert stocks["upper_montane"]["source"] == "IPCC default" and stocks["upper_montane"]["n_plots"] == 0
    html = (folder / "outputs" / "report.html").read_text()
    assert "IPCC default" in html
    factors = {f["forest_class"]: f for f in accounting["emission_factors"]}
    post = 25.0 + 7.0  # coffee agroforestry, tC/ha
    for name, s in stocks.items():
        assert factors[name]["ef_tco2e_ha"] == pytest.approx((s["carbon_tc_ha"] - post) * 44 / 12)
    assert accounting["buffer"]["source"] == "AFOLU Non-Permanence Risk Tool v4.2"
    # internal 2 + 3 + (4 − 2) + 0, external 2 + 0 + 2, natural: fire LS(minor, 25–50 yr) 3 × 0.5, extreme weather
    # LS(insignificant, 10–25 yr) 3, geological LS(minor, 50–100 yr) 2 (v4.2 Table 10): 7 + 4 + 6.5 = 17.5 ≥ 12
    assert accounting["buffer"]["pct"] == accounting["buffer"]["assessment"]["total"] == 17.5


def test_agreements_compliance_against_the_simulated_truth(demo):
    """Every breach the map shows (a mapped patch of at least the minimum mapping unit in the period whose loss
    years hold the breach year, or the next year: the map dates some clearings a year late) is flagged; no
    complying household is ever found in breach (the map's false specks lie within its stated error); the counts
    and money reach results.json. At project scale (seed 42): 34 breaches, 32 seen, 32 flagged, 0 of 816
    complying households in breach, 4 sent to verification."""
    import csv

    from icam.agreements.compliance import period_loss_years

    folder, _ = demo
    summary = _results(folder)["agreements"]
    assert {"compliant", "breach"} <= set(summary["counts_by_status"])
    assert summary["hectares_covered"] > 0 and summary["benefits"]["delivered_usd"] > 0
    assert summary["benefits"]["due_usd"] <= summary["benefits"]["promised_usd"]
    truth = {r["agreement_id"]: r for r in csv.DictReader(open(folder / "truth" / "households.csv"))
             if r["agreement_id"]}
    flagged = {}
    for row in csv.DictReader(open(folder / "outputs" / "tables" / "agreements_compliance.csv")):
        flagged.setdefault(row["agreement"], []).append(row)
    breaches = [a for a, r in truth.items() if r["behaviour"] == "breaches"]
    assert breaches
    seen = 0
    for agreement in breaches:
        year = int(truth[agreement]["breach_year"])
        holding = [r for r in flagged[agreement] if r["status"] != "not_in_force"
                   and period_loss_years([(r["period_start"], r["period_end"])])[0][2] <= year + 1
                   and period_loss_years([(r["period_start"], r["period_end"])])[0][3] >= year]
        if any(float(r["largest_patch_ha"]) >= 0.5 for r in holding):
            seen += 1
            assert any(r["status"] in ("to_verify", "breach") for r in holding), (agreement, holding)
    assert seen >= 1
    complying_in_breach = [a for a, r in truth.items() if r["behaviour"] == "complies"
                           and any(row["status"] == "breach" for row in flagged.get(a, []))]
    assert complying_in_breach == []


def test_agreements_geopackage_opens_in_gdal(demo):
    folder, _ = demo
    gpkg = folder / "outputs" / "agreements.gpkg"
    assert gpkg.exists()
    if shutil.which("ogrinfo") is None:
        pytest.skip("GDAL's ogrinfo is not installed")
    done = subprocess.run(["ogrinfo", "-ro", "-so", "-al", str(gpkg)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "Layer name: parcels" in done.stdout and "status" in done.stdout


def _csv_rows(path: Path) -> list[dict]:
    import csv

    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_enforcement_alerts_against_the_simulated_alerts_and_patrols(demo):
    folder, output = demo
    e = _results(folder)["enforcement"]
    truth = json.loads((folder / "truth" / "alerts.json").read_text())
    alerts = e["alerts"]
    # the simulator clustered its raster with the same defaults: the same events, all new on the first run
    # (the demo's output; results.json may come from a later run of the module's tests, with none new)
    assert alerts["events"] == truth["events"] == sum(alerts["by_priority"].values())
    assert alerts["new"] + alerts["already_seen"] == alerts["events"]
    assert f"Alerts: {alerts['events']:,} newly raised" in " ".join(output.split())
    table = {r["alert_id"]: r for r in _csv_rows(folder / "outputs" / "tables" / "enforcement_alerts.csv")}
    visits = _csv_rows(folder / "truth" / "patrol_visits.csv")
    assert visits and all(v["alert_id"] in table for v in visits)
    expected = {v["alert_id"]: "true_positive" if v["category"] == "clearing" else "false_positive" for v in visits}
    agree = sum(table[a]["verdict"] == verdict for a, verdict in expected.items())
    assert agree >= 0.95 * len(visits)  # a neighbour's earlier observation within 250 m may decide instead
    visit = {a: (np.datetime64(r["first_visit"][:19]) - np.datetime64(r["first_date"])) / np.timedelta64(1, "D")
             for a, r in table.items() if r["first_visit"]}
    delays = [visit[v["alert_id"]] - float(v["days_after"]) for v in visits
              if table[v["alert_id"]]["verdict"] == expected[v["alert_id"]]]
    # first_date is midnight and the visit is at 13:00 on the simulated day (to the minute)
    assert np.median(delays) == pytest.approx(13 / 24, abs=1e-3)
    ind = e["indicators"]
    checked = [r for r in table.values() if r["status"] == "checked"]
    assert ind["checked"] == len(checked) >= len(visits) * 0.95
    assert ind["precision"] == pytest.approx(sum(r["verdict"] == "true_positive" for r in checked) / len(checked))
    clearings = sum(n for n in ind["incidents_by_category_zone"]["clearing"].values())
    assert clearings == sum(v["category"] == "clearing" for v in visits)
    assert 0 < sum(ind["actions_by_type"].values()) <= truth["actions"]
    # a warning goes to a household only for a clearing found in its agreement's parcel
    in_agreements = sum(1 for r in checked if r["agreement"] and r["verdict"] == "true_positive")
    assert ind["actions_by_type"].get("agreement_warning", 0) <= in_agreements
    assert set(ind["effort_by_zone"]) <= {"project_area", "leakage_belt"}


def test_enforcement_exports_open_in_gdal(demo, tmp_path):
    # a first run on the demo's inputs (a new registry, the cached stages): every alert is new
    folder = tmp_path / "project"
    shutil.copytree(demo[0], folder, ignore=shutil.ignore_patterns("outputs", "ledger.sqlite*"))
    code, output = run_cli("run", folder)
    assert code == 0, output
    e = _results(folder)["enforcement"]
    assert e["alerts"]["new"] == e["alerts"]["events"]
    files = [folder / "outputs" / e["files"]["geopackage"]] + [folder / "outputs" / f for f in e["files"]["field"]]
    assert all("alert" in f.name and f.exists() for f in files)
    if shutil.which("ogrinfo") is None:
        pytest.skip("GDAL's ogrinfo is not installed")
    table = _csv_rows(folder / "outputs" / "tables" / "enforcement_alerts.csv")
    # new this run, not checked, medium priority or higher
    field_list = sum(r["new"] == "True" and r["status"] != "checked" and r["priority"] in ("high", "medium")
                     for r in table)
    assert field_list == e["field_list"] > 0
    for path in files:
        done = subprocess.run(["ogrinfo", "-ro", "-so", "-al", str(path)], capture_output=True, text=True,
                              check=False)
        assert done.returncode == 0, done.stderr
        counts = [int(line.split(":")[1]) for line in done.stdout.splitlines() if line.startswith("Feature Count")]
        expected = e["alerts"]["events"] if path.suffix == ".gpkg" else field_list
        assert expected in counts, (path, done.stdout)


def test_enforcement_raises_alerts_once_and_only_after_publishing(demo, tmp_path):
    from sqlalchemy import func, select

    from icam.enforcement.models import Alert
    from icam.pipeline.config import load_config
    from icam.pipeline.stages.enforcement import record, run_enforcement
    from icam.pipeline.stages.landscape import load_landscape
    from icam.store.db import open_session

    folder, _ = demo
    copy = tmp_path / "project"
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("outputs", ".icam"))
    config = load_config(copy)
    result = run_enforcement(config, copy, load_landscape(config))
    events = result.summary["alerts"]["events"]
    assert result.summary["alerts"]["new"] == events > 0

    def raised() -> int:
        with open_session(copy) as s:
            return s.scalar(select(func.count()).select_from(Alert))

    def record_once() -> int:
        with open_session(copy) as s:
            return record(s, config, result)

    assert raised() == 0  # the stage rolls back: a run that fails later raises nothing
    assert record_once() == events == raised()
    assert record_once() == 0  # already raised
    code, output = run_cli("run", copy)
    assert code == 0, output
    again = _results(copy)["enforcement"]["alerts"]
    assert again["new"] == 0 and again["already_seen"] == events and sum(again["new_by_priority"].values()) == 0
    # the rerun's field list keeps the alerts not yet handed to a patrol (status new), medium priority or higher
    table = _csv_rows(copy / "outputs" / "tables" / "enforcement_alerts.csv")
    waiting = sum(r["status"] == "new" and r["priority"] in ("high", "medium") for r in table)
    assert _results(copy)["enforcement"]["field_list"] == waiting > 0
    assert (copy / "outputs" / "enforcement" / "alerts_new.gpx").read_text().count("<wpt ") == waiting


def _copy_project(folder: Path, tmp_path: Path) -> Path:
    """The demo's inputs, configuration, cache and registry (a later run reuses the cached stages)."""
    copy = tmp_path / "project"
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("outputs"))
    return copy


def test_enforcement_from_the_annual_loss_map_and_a_bad_alert_raster(demo, tmp_path):
    folder, _ = demo
    copy = _copy_project(folder, tmp_path)
    toml = copy / "icam.toml"
    text = toml.read_text()
    toml.write_text(text.replace('alerts = "inputs/alerts/alerts_2024.tif"', "annual_loss_year = 2023"))
    code, output = run_cli("run", copy)
    assert code == 0, output
    e = _results(copy)["enforcement"]
    assert e["source"] == {"kind": "annual_loss", "year": 2023}
    assert e["alerts"]["first_date"] == e["alerts"]["last_date"] == "2023-07-01"  # annual maps say no day
    # a one-band raster where two bands (date, confidence) are expected: one line, exit 2, outputs untouched
    write_tif = __import__("conftest").write_tif
    with rasterio.open(copy / "inputs" / "alerts" / "alerts_2024.tif") as src:
        write_tif(copy / "inputs" / "alerts" / "one_band.tif", src.read(1), transform=src.transform)
    before = (copy / "outputs" / "results.json").read_bytes()
    toml.write_text(text.replace("alerts_2024.tif", "one_band.tif"))
    code, output = run_cli("run", copy)
    assert code == 2 and "has 1 band(s), not 2 (date, confidence)" in output and "Traceback" not in output
    assert (copy / "outputs" / "results.json").read_bytes() == before


def test_enforcement_cli_plans_a_patrol_and_refuses_a_bad_observation_file(demo, tmp_path):
    folder, _ = demo
    copy = _copy_project(folder, tmp_path)
    code, output = run_cli("enforcement", "plan", copy, "--start", "2025-01-06", "--days", "2", "--team", "A",
                           "--max-alerts", "3", "--min-priority", "low")
    assert code == 0, output
    table = sorted(_csv_rows(folder / "outputs" / "tables" / "enforcement_alerts.csv"),
                   key=lambda r: (r["status"] == "checked", -float(r["score"])))
    best_open = [r["alert_id"] for r in table if r["status"] != "checked"][:3]
    gpx = (copy / "plans" / "PLAN-20250106-1_alerts.gpx").read_text()
    assert [gpx.index(a) for a in best_open] == sorted(gpx.index(a) for a in best_open)  # highest score first
    code, output = run_cli("enforcement", "status", copy, "--as-of", "2024-12-31")
    assert code == 0 and "Patrol effort by zone" in output
    bad = copy / "bad_observations.csv"
    bad.write_text("patrol_id,observed_at,lat,lon,category\nPAT-0001,2024-05-01T10:00:00,-5.9,-77.3,clearing\n"
                   "PAT-9999,2024-05-01T11:00:00,-5.9,-77.3,poaching\n", encoding="utf-8")
    code, output = run_cli("enforcement", "import", "observations", bad, copy, "--errors-csv", copy / "errors.csv")
    assert code == 2 and "1 of 2 rows refused (first: row 3, column category: 'poaching'" in " ".join(output.split())
    assert "Traceback" not in output
    report = _csv_rows(copy / "errors.csv")  # one line per problem: the patrol and the category of row 3
    assert {(r["row"], r["column"]) for r in report} == {("3", "patrol_id"), ("3", "category")}


_FORKED_AND_HERE = """
import json, sys
from pathlib import Path
import numba
from icam.cli.demo import _simulate_while_importing
from icam.simulate import simulate
scenario = {"scale": "small", "seed": 3, "project_effect": 0.38, "displacement": 0.2}
forked, here = [], []
_simulate_while_importing(Path(sys.argv[1]) / "forked", lambda *step: forked.append(step), scenario)
try:
    numba.threading_layer()  # the simulation's parallel functions ran in this process
    elsewhere = False
except ValueError:
    elsewhere = True
simulate(Path(sys.argv[1]) / "here", progress=lambda *step: here.append(step), **scenario)
print(json.dumps({"forked": forked, "here": here, "elsewhere": elsewhere}))
"""


def test_the_demo_simulates_in_a_forked_process_as_here_and_reports_its_progress(tmp_path):
    """In a fresh process, as ``icam demo`` starts (a test process has started numba's threads, after which the
    simulation runs in place): the forked simulation writes what one here writes, its progress relayed."""
    import sys

    import geopandas as gpd

    done = subprocess.run([sys.executable, "-c", _FORKED_AND_HERE, tmp_path], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    steps = json.loads(done.stdout.splitlines()[-1])
    assert steps["elsewhere"]  # simulated in another process
    assert steps["forked"] == steps["here"] and steps["forked"][-1] == ["simulating: done", 1.0]

    def files(folder):
        return {p.relative_to(folder): p.read_bytes() for sub in ("inputs", "truth") for p in (folder / sub).rglob("*")
                if p.is_file()}

    forked, local = files(tmp_path / "forked"), files(tmp_path / "here")
    assert forked.keys() == local.keys() and len(forked) > 20
    for path in forked:
        if path.suffix == ".gpkg":  # a GeoPackage records when it was written: its features are compared
            assert gpd.read_file(tmp_path / "forked" / path).equals(gpd.read_file(tmp_path / "here" / path)), path
        else:
            assert forked[path] == local[path], path
