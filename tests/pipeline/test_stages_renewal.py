"""Baselines renewed at the end of their validity (icam.pipeline.stages.renewal): the shifted periods, which
baseline serves which year, and the simulated project's renewals end to end."""

import json
from types import SimpleNamespace

import numpy as np

from icam.pipeline.stages.renewal import BaselineVersion, annual_by_version, period_baselines, shifted


def _version(first: int, last: int, ha_per_cell: float) -> BaselineVersion:
    return BaselineVersion(valid_years=(first, last), historical_reference=(first - 9, first - 1),
                           calibration=(first - 9, first - 5), confirmation=(first - 5, first - 1),
                           chosen_model="benchmark", risk_ha_per_year=np.full((2, 2), ha_per_cell), baseline=None)


VERSIONS = (_version(2009, 2014, 1.0), _version(2015, 2020, 2.0), _version(2021, 2026, 3.0))
LAND = SimpleNamespace(grid=SimpleNamespace(cell_area_ha=lambda: 0.09, shape=(2, 2)))


def test_each_year_from_the_baseline_that_serves_it():
    """Four cells of 1, 2 and 3 ha/yr: 4 ha/yr up to 2014 (the project's 2008 too), 8 in 2015–2020, 12 after
    (2027–2028 from the last baseline, though beyond its validity)."""
    annual = annual_by_version("vt0007_density", VERSIONS, LAND, np.ones((2, 2), bool), range(2008, 2029))
    assert annual == {**{y: 4.0 for y in range(2008, 2015)}, **{y: 8.0 for y in range(2015, 2021)},
                      **{y: 12.0 for y in range(2021, 2029)}}


def test_a_period_names_its_baselines_and_is_valid_within_the_last_renewal():
    first, second, third = (v.name("VM0048") for v in VERSIONS)
    assert period_baselines([2008, 2009, 2010, 2011, 2012], VERSIONS, "VM0048") == (True, first)
    assert period_baselines([2014, 2015, 2016], VERSIONS, "VM0048") == (True, f"{first} + {second}")
    assert period_baselines([2026, 2027], VERSIONS, "VM0048") == (False, third)
    assert first == "VT0007 density map fitted on 2000–2008, valid 2009–2014"


def test_shifted_moves_every_period_of_the_baseline(full_small_run):
    config = full_small_run.config
    renewed = shifted(config, 6)
    p, q = config.periods, renewed.periods
    assert q.historical_reference == (p.historical_reference[0] + 6, p.historical_reference[1] + 6)
    assert (q.calibration, q.confirmation) == ((p.calibration[0] + 6, p.calibration[1] + 6),
                                               (p.confirmation[0] + 6, p.confirmation[1] + 6))
    assert renewed.baseline.years[0] == config.baseline.years[0] + 6
    assert renewed.carbon == config.carbon and q.monitoring == p.monitoring


def test_the_simulated_project_renews_its_baseline_every_six_years(vm0048_small_run):
    """VM0048, validity 6 years from 2009, periods to 2024: renewed for 2015–2020 and 2021–2026 on the
    historical periods 2006–2014 and 2012–2020; every period is valid and names the baselines of its years."""
    accounting = json.loads((vm0048_small_run.outputs_dir / "results.json").read_text())["accounting"]
    baselines = accounting["baselines"]
    assert [b["valid_years"] for b in baselines] == [[2009, 2014], [2015, 2020], [2021, 2026]]
    assert [b["historical_reference"] for b in baselines] == [[2000, 2008], [2006, 2014], [2012, 2020]]
    assert accounting["baseline_valid_years"] == [2009, 2026]
    for period in accounting["periods"]:
        assert period["baseline_valid"] and not period["baseline_beyond_validity"]
        first, last = int(period["start"][:4]), int(period["end"][:4])
        # a baseline serves its valid years (the first one also the project's years before them)
        named = [b["name"] for i, b in enumerate(baselines)
                 if (i == 0 or b["valid_years"][0] <= last) and b["valid_years"][1] >= first]
        assert period["baseline"] == " + ".join(named)
        assert period["credits"] >= 0
