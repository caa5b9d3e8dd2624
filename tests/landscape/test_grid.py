"""True cell areas: nominal on UTM, corrected per row on Mercator (checked against Snyder's formula)."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from icam.landscape.grid import Grid

WGS84_E2 = 0.00669437999014  # first eccentricity squared of WGS 84


def mercator_areal_scale(lat_deg: float) -> float:
    """k² for the ellipsoidal normal Mercator: k = sec φ · √(1 − e² sin² φ) (Snyder 1987, eq. 7-8)."""
    phi = math.radians(lat_deg)
    k = math.sqrt(1 - WGS84_E2 * math.sin(phi) ** 2) / math.cos(phi)
    return k * k


def test_utm_cells_have_nominal_area():
    grid = Grid.from_bounds("EPSG:32718", (199_980, 9_300_000, 202_980, 9_303_000), 30)
    assert grid.shape == (100, 100)
    assert not grid.is_area_corrected
    assert np.allclose(grid.cell_area_ha(), 0.09)
    assert math.isclose(grid.area_ha(np.ones(grid.shape, bool)), 900.0)


def test_mercator_rows_are_corrected_by_the_areal_scale():
    # rows around 16.2° N (Guadeloupe) in World Mercator, 30 m cells
    y_top = 1_826_000.0
    grid = Grid.from_bounds("EPSG:3395", (-6_850_000, y_top - 3000, -6_847_000, y_top), 30)
    assert grid.is_area_corrected
    areas = grid.cell_area_ha()[:, 0]
    transformer_lat = __import__("pyproj").Transformer.from_crs("EPSG:3395", "EPSG:4326", always_xy=True)
    _, lat_first = transformer_lat.transform(-6_848_500, y_top - 15)
    expected = 0.09 / mercator_areal_scale(lat_first)
    assert math.isclose(areas[0], expected, rel_tol=1e-6)
    # at about 16.4° N a World Mercator cell covers about 8 % less ground than its nominal 0.09 ha
    assert 0.07 < 1 - areas[0] / 0.09 < 0.09
    assert np.all(np.diff(areas) > 0)  # rows further south (nearer the equator) cover more ground


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["EPSG:3395", "EPSG:32620"]))
def test_areas_of_a_partition_add_up(seed, crs):
    rng = np.random.default_rng(seed)
    grid = Grid.from_bounds(crs, (-6_850_000 if crs == "EPSG:3395" else 600_000, 1_800_000, 0, 0)[:2]
                            + ((-6_850_000 if crs == "EPSG:3395" else 600_000) + 1500, 1_801_500), 30)
    labels = rng.integers(0, 4, grid.shape)
    parts = sum(grid.area_ha(labels == k) for k in range(4))
    assert math.isclose(parts, grid.area_ha(np.ones(grid.shape, bool)), rel_tol=1e-12)


def test_grid_snaps_outwards_to_the_resolution():
    grid = Grid.from_bounds("EPSG:32718", (100_010, 200_020, 100_950, 200_980), 30)
    xmin, ymin, xmax, ymax = grid.bounds
    assert (xmin, ymin, xmax, ymax) == (99_990, 200_010, 100_950, 201_000)  # 3333 x 30, 6667 x 30, 3365 x 30, 6700 x 30
    assert grid.same_as(Grid.from_bounds("EPSG:32718", grid.bounds, 30))
