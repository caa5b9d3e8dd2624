"""Activity data for one period: the map's classes, its areas, and the sample-based estimate."""

import math

import numpy as np
import pandas as pd
import pytest

from icam.core.errors import InputError
from icam.forest.activity import (
    FOREST_LOSS,
    NON_FOREST,
    OUTSIDE,
    STABLE_FOREST,
    activity_map,
    assess,
    mapped_areas,
    stratum_areas,
)
from icam.forest.area import stratified_estimate
from icam.forest.change import ForestChange
from icam.landscape.grid import Grid

GRID = Grid.from_bounds("EPSG:32718", (0, 0, 30 * 40, 30 * 20), 30)  # 20 rows x 40 cols of 0.09 ha


def _forest() -> ForestChange:
    forest_first = np.zeros(GRID.shape, bool)
    forest_first[:, 10:] = True                      # columns 0-9 non-forest
    loss = np.zeros(GRID.shape, np.uint8)
    loss[:, 10:14] = 1                               # lost 2000-2004 (before the period)
    loss[:, 14:20] = 2                               # lost 2004-2008 (in the period)
    valid = np.ones(GRID.shape, bool)
    valid[0, :] = False
    return ForestChange((2000, 2004, 2008), forest_first, loss, valid, "test")


def test_map_classes_and_areas_by_hand():
    zone = np.ones(GRID.shape, bool)
    zone[:, 35:] = False
    classes = activity_map(_forest(), zone, 2004, 2008)
    px, area = mapped_areas(classes, GRID)
    # 19 valid rows; non-forest = 10 + 4 (lost before 2004) columns, loss = 6, stable = 35 - 20 = 15
    assert px == {STABLE_FOREST: 19 * 15, FOREST_LOSS: 19 * 6, NON_FOREST: 19 * 14}
    assert math.isclose(area[FOREST_LOSS], 19 * 6 * 0.09)
    assert (classes[0] == OUTSIDE).all() and (classes[:, 35:] == OUTSIDE).all()


def _samples(tmp_path, classes, n_per=6, flip=0):
    rows = []
    for code in (STABLE_FOREST, FOREST_LOSS, NON_FOREST):
        r, c = np.nonzero(classes == code)
        for k in range(n_per):
            x, y = GRID.transform @ (c[k] + 0.5, r[k] + 0.5)
            ref = NON_FOREST if (code == FOREST_LOSS and k < flip) else code
            rows.append({"id": f"{code}-{k}", "x": x, "y": y, "stratum": code, "map_class": code, "ref_class": ref})
    path = tmp_path / "samples.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path, pd.DataFrame(rows)


def test_assessment_equals_the_stratified_estimator(tmp_path):
    zone = np.ones(GRID.shape, bool)
    forest = _forest()
    classes = activity_map(forest, zone, 2004, 2008)
    path, table = _samples(tmp_path, classes, flip=2)
    result = assess("p", 2004, 2008, path, forest, GRID, "grid", zone)
    _, area = mapped_areas(classes, GRID)
    expected = stratified_estimate(table[["stratum", "map_class", "ref_class"]], area)
    assert result.estimate.area_ha == pytest.approx(expected.area_ha)
    # 2 of 6 loss samples are non-forest: estimated loss = 4/6 of the mapped loss area
    assert result.estimate.area_ha[FOREST_LOSS] == pytest.approx(area[FOREST_LOSS] * 4 / 6)
    assert result.to_dict()["mapped_px"]["2"] == 19 * 6


def test_sample_from_another_map_is_refused(tmp_path):
    zone = np.ones(GRID.shape, bool)
    forest = _forest()
    path, table = _samples(tmp_path, activity_map(forest, zone, 2000, 2004))
    with pytest.raises(InputError, match="differs from the map"):
        assess("p", 2004, 2008, path, forest, GRID, "grid", zone)


def test_unsampled_class_and_unknown_year_are_refused(tmp_path):
    zone = np.ones(GRID.shape, bool)
    forest = _forest()
    path, table = _samples(tmp_path, activity_map(forest, zone, 2004, 2008))
    table[table.map_class != NON_FOREST].to_csv(path, index=False)
    with pytest.raises(InputError, match="no sample in the mapped class"):
        assess("p", 2004, 2008, path, forest, GRID, "grid", zone)
    with pytest.raises(InputError, match="2005 is not a year"):
        activity_map(forest, zone, 2005, 2008)


def test_stratum_areas_by_hand_on_rows_of_different_areas():
    """Codes present (0 left out, 255 counted like any other), their pixels, and their areas from each row's own
    cell area: a Mercator grid's rows of 100 km cells hold less ground the farther from the equator."""
    strata = np.array([[0, 11, 11, 255],
                       [3, 11, 0, 0],
                       [3, 3, 23, 0]], np.uint8)
    grid = Grid.from_bounds("EPSG:3857", (0, 5_000_000, 400_000, 5_300_000), 100_000)
    row_ha = grid.cell_area_ha()[:, 0]
    assert row_ha[0] < row_ha[1] < row_ha[2]  # the top row is the northernmost
    px, area = stratum_areas(strata, grid)
    assert px == {3: 3, 11: 3, 23: 1, 255: 1}
    expected = {3: row_ha[1] + 2 * row_ha[2], 11: 2 * row_ha[0] + row_ha[1], 23: row_ha[2], 255: row_ha[0]}
    assert list(area) == [3, 11, 23, 255] and area == pytest.approx(expected, rel=1e-12)
