"""The dynamic baseline's ex-ante years, worked by hand on a 10 × 10 landscape; the matching landscape that the
counterfactual estimates and the accounting share."""

import numpy as np
import pytest

from icam.pipeline.stages.carbon import strata_config, stratum_masks
from icam.pipeline.stages.carbon_dynamic import (
    _extend_ex_ante,
    matching_landscape,
    prepare_matching_landscape,
    shared_matching_landscape,
)
from icam.risk.dynamic import MatchingLandscape


def test_ex_ante_years_take_the_adjusted_historical_rate():
    # 5 cells lost in 2001 and 5 in 2002, none after: forest-years over the HRP 2001-2002 = 100 + 95 = 195;
    # the sample says the map shows twice the true loss (ratio 0.5): rate = 10 x 0.5 / 195 a year, times the
    # 90 cells (8.1 ha) standing at the end of the data (2003)
    loss_year = np.zeros((10, 10), np.int16)
    loss_year[0, :5], loss_year[1, :5] = 2001, 2002
    land = MatchingLandscape(loss_year=loss_year, forest_first=np.ones((10, 10), bool), first_year=2000,
                             control=np.zeros((10, 10), bool), strata=np.ones((10, 10), np.int16),
                             strata_names=("forest",), static={}, cell_size_m=30.0, cell_area_ha=0.09)
    base, se = {"forest": {}}, {"forest": {}}
    _extend_ex_ante(base, se, land, np.ones((10, 10), bool), [2001, 2002], [2025, 2026], 2003, 0.5)
    assert base["forest"] == pytest.approx({2025: 5 / 195 * 8.1, 2026: 5 / 195 * 8.1})
    assert se["forest"] == {2025: 0.0, 2026: 0.0}


def test_the_prepared_matching_landscape_serves_its_landscape_until_its_last_use(full_small_run):
    """Prepared before the estimates fork, the one matching landscape is handed to both readers, its strata not
    computed again, and forgotten at its last use; another landscape or another risk zone gets its own."""
    config, landscape = full_small_run.config, full_small_run.results["landscape"]
    strata = stratum_masks(config, landscape, [s.name for s in strata_config(config.carbon)])
    built = []

    def strata_again():
        built.append(1)
        return strata

    prepare_matching_landscape(config, landscape, strata)
    first = shared_matching_landscape(config, landscape, strata_again, last_use=False)
    assert shared_matching_landscape(config, landscape, strata_again, last_use=True) is first and not built
    again = shared_matching_landscape(config, landscape, strata_again, last_use=True)
    assert again is not first and built == [1]
    fresh = matching_landscape(config, landscape, strata)
    for name in ("loss_year", "forest_first", "control", "strata"):
        np.testing.assert_array_equal(getattr(first, name), getattr(fresh, name))
    assert first.strata_names == fresh.strata_names

    prepare_matching_landscape(config, landscape, strata)
    prepared = shared_matching_landscape(config, landscape, strata_again, last_use=False)
    other_zone = config.model_copy(update={"risk": config.risk.model_copy(update={"zone": "project_area"})})
    assert shared_matching_landscape(other_zone, landscape, strata_again, last_use=True) is not prepared
    assert built == [1, 1]
    assert shared_matching_landscape(config, landscape, strata_again, last_use=True) is prepared  # kept for its own
