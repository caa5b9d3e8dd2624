"""Forest area and loss per zone: a hand-worked example, and invariants on random landscapes."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from icam.forest.change import ForestChange
from icam.forest.zones import zone_statistics
from icam.landscape import Landscape, Zones
from icam.landscape.grid import Grid


def _landscape(forest_first, loss_period, valid, project=None, admin_id=None, names=(), epochs=(2000, 2005, 2010)):
    grid = Grid.from_bounds("EPSG:32718", (0, 0, 30 * forest_first.shape[1], 30 * forest_first.shape[0]), 30)
    change = ForestChange(tuple(epochs), forest_first, loss_period.astype(np.uint8), valid, "test")
    return Landscape(grid, Zones(project=project, admin_id=admin_id, admin_names=tuple(names)), change)


def test_hand_worked_example():
    # 2 x 4 cells of 0.09 ha; column 0 non-forest, columns 1-3 forest in 2000
    forest_first = np.array([[0, 1, 1, 1], [0, 1, 1, 1]], bool)
    loss_period = np.array([[0, 1, 2, 0], [0, 0, 2, 0]])  # one cell lost 2000-05, two lost 2005-10
    valid = np.array([[1, 1, 1, 1], [1, 1, 1, 0]], bool)  # bottom-right cell has no data
    project = np.array([[0, 0, 1, 1], [0, 0, 1, 1]], bool)
    stats = zone_statistics(_landscape(forest_first, loss_period, valid, project))
    assert math.isclose(stats.zone_area_ha["grid"], 8 * 0.09)
    assert math.isclose(stats.valid_area_ha["grid"], 7 * 0.09)
    assert np.allclose(stats.forest_area_ha("grid"), [5 * 0.09, 4 * 0.09, 2 * 0.09])
    assert np.allclose(stats.loss_ha["grid"], [0.09, 0.18])
    assert np.allclose(stats.forest_area_ha("project_area"), [3 * 0.09, 3 * 0.09, 1 * 0.09])
    assert stats.period_labels == ["2000-2005", "2005-2010"]
    t = stats.transitions_ha("grid")
    assert np.allclose([t["forest_to_forest"], t["forest_to_nonforest"], t["nonforest_to_nonforest"]],
                       [0.18, 0.27, 0.18])


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 6))
def test_areas_add_up_over_admin_units(seed, n_units):
    rng = np.random.default_rng(seed)
    shape = (20, 30)
    forest_first = rng.random(shape) < 0.7
    loss_period = rng.integers(0, 3, shape) * forest_first
    valid = rng.random(shape) < 0.95
    admin_id = rng.integers(0, n_units + 1, shape).astype(np.int32)
    names = [f"u{i}" for i in range(1, n_units + 1)]
    stats = zone_statistics(_landscape(forest_first, loss_period, valid, admin_id=admin_id, names=names))
    units = [f"admin:{n}" for n in names]
    outside = (admin_id == 0)
    for key in ("zone_area_ha", "valid_area_ha", "forest_first_ha"):
        whole = getattr(stats, key)["grid"]
        inside = sum(getattr(stats, key)[u] for u in units)
        rest = {"zone_area_ha": outside, "valid_area_ha": outside & valid,
                "forest_first_ha": outside & valid & forest_first}[key].sum() * 0.09
        assert math.isclose(inside + rest, whole, abs_tol=1e-9)
    # forest area never increases, and forest + non-forest = valid area at every epoch
    for zone in stats.zones:
        areas = stats.forest_area_ha(zone)
        assert all(a >= b - 1e-12 for a, b in zip(areas, areas[1:]))
        t = stats.transitions_ha(zone)
        assert math.isclose(sum(t.values()), stats.valid_area_ha[zone], abs_tol=1e-9)
    # the loss counted equals the loss cells, by hand
    expected = [(valid & forest_first & (loss_period == p)).sum() * 0.09 for p in (1, 2)]
    assert np.allclose(stats.loss_ha["grid"], expected)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 3))
def test_a_mercator_grid_weighs_each_cell_by_its_rows_area(seed, n_units):
    """On a Mercator grid (cells of each row their own ground area) every figure is the sum of its cells' areas:
    the weighted path, where a projected grid counts cells."""
    rng = np.random.default_rng(seed)
    shape = (20, 30)
    forest_first = rng.random(shape) < 0.7
    loss_period = rng.integers(0, 3, shape) * forest_first
    valid = rng.random(shape) < 0.95
    admin_id = rng.integers(0, n_units + 1, shape).astype(np.int32) if n_units else None
    names = [f"u{i}" for i in range(1, n_units + 1)]
    y0 = -600_000.0  # about 5.4° S
    grid = Grid.from_bounds("EPSG:3857", (0, y0, 1000 * shape[1], y0 + 1000 * shape[0]), 1000)
    assert grid.is_area_corrected
    landscape = Landscape(grid, Zones(admin_id=admin_id, admin_names=tuple(names)),
                          ForestChange((2000, 2005, 2010), forest_first, loss_period.astype(np.uint8), valid, "test"))
    stats = zone_statistics(landscape)
    area = np.broadcast_to(grid.cell_area_ha(), shape)
    assert math.isclose(stats.forest_first_ha["grid"], area[valid & forest_first].sum(), rel_tol=1e-12)
    assert np.allclose(stats.loss_ha["grid"], [area[valid & forest_first & (loss_period == p)].sum() for p in (1, 2)],
                       rtol=1e-12)
    for i, name in enumerate(names, start=1):
        unit = admin_id == i
        assert math.isclose(stats.zone_area_ha[f"admin:{name}"], area[unit].sum(), rel_tol=1e-12)
        assert math.isclose(stats.valid_area_ha[f"admin:{name}"], area[unit & valid].sum(), rel_tol=1e-12)
