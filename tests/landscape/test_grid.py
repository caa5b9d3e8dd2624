"""True cell areas: nominal on UTM, corrected per row on Mercator (checked against Snyder's formula)."""

import math

import numpy as np
import pytest
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


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["EPSG:3395", "EPSG:32620"]))
def test_cell_areas_at_indices_are_the_rasters_values(seed, crs):
    rng = np.random.default_rng(seed)
    x0 = -6_850_000 if crs == "EPSG:3395" else 600_000
    grid = Grid.from_bounds(crs, (x0, 1_800_000, x0 + 1500, 1_801_500), 30)
    index = rng.choice(grid.height * grid.width, size=int(rng.integers(0, 300)), replace=False).astype(np.int32)
    at = grid.cell_area_at_ha(index)
    full = np.broadcast_to(grid.cell_area_ha(), grid.shape).ravel()[index]
    assert at.dtype == np.float64 and at.shape == index.shape
    assert np.array_equal(at, full)  # the same numbers to the bit, a view of one value on UTM
    assert grid.is_area_corrected or not at.flags.writeable


def test_grid_snaps_outwards_to_the_resolution():
    grid = Grid.from_bounds("EPSG:32718", (100_010, 200_020, 100_950, 200_980), 30)
    xmin, ymin, xmax, ymax = grid.bounds
    assert (xmin, ymin, xmax, ymax) == (99_990, 200_010, 100_950, 201_000)  # 3333 x 30, 6667 x 30, 3365 x 30, 6700 x 30
    assert grid.same_as(Grid.from_bounds("EPSG:32718", grid.bounds, 30))


def tm_areal_scale(lon_deg: float, lat_deg: float, lon0_deg: float, k0: float = 0.9996) -> float:
    """k² of the ellipsoidal transverse Mercator (Snyder 1987, eq. 8-11), WGS 84."""
    e2 = WGS84_E2
    ep2 = e2 / (1 - e2)
    phi = math.radians(lat_deg)
    a = math.radians(lon_deg - lon0_deg) * math.cos(phi)
    t, c = math.tan(phi) ** 2, ep2 * math.cos(phi) ** 2
    k = k0 * (1 + (1 + c) * a**2 / 2 + (5 - 4 * t + 42 * c + 13 * c**2 - 28 * ep2) * a**4 / 24
              + (61 - 148 * t + 16 * t**2) * a**6 / 720)
    return k * k


@settings(max_examples=30, deadline=None)
@given(st.floats(-2.9, 2.9), st.floats(-60, 60))
def test_a_utm_grid_in_its_zone_counts_areas_within_0_2_percent(offset_deg, lat_deg):
    """UTM's areal scale k² over a 3 km grid inside its zone: Snyder's formula, and 0.9992 ≤ k² < 1.002."""
    from pyproj import CRS, Transformer

    zone_crs = CRS.from_epsg(32718 if lat_deg < 0 else 32618)  # central meridian 75° W
    x, y = Transformer.from_crs("EPSG:4326", zone_crs, always_xy=True).transform(-75 + offset_deg, lat_deg)
    grid = Grid.from_bounds(zone_crs, (x - 1500, y - 1500, x + 1500, y + 1500), 30)
    lo, hi = grid.areal_scale_range()
    assert 0.9992 - 1e-9 <= lo <= hi < 1.002
    centre = tm_areal_scale(-75 + offset_deg, lat_deg, -75)
    assert lo - 1e-6 <= centre <= hi + 1e-6


def rioja(shared_data) -> "object":
    path = shared_data / "peru" / "san_martin_provinces_moyobamba_rioja.geojson"
    if not path.exists():
        pytest.skip("peru data not found")
    return path


def rasterised_area_ha(path, crs: str, resolution_m: float) -> tuple[float, Grid, float]:
    """(icam's area of Rioja on a grid in ``crs``, the grid, the polygon's planar area in ``crs``, ha)."""
    from icam.landscape.vector import rasterize_mask, read_polygons

    gdf = read_polygons(path, crs, "boundaries.project_area", "NOMBPROV")  # the file is in EPSG:4326
    gdf = gdf[gdf["NOMBPROV"] == "RIOJA"]
    grid = Grid.from_bounds(crs, tuple(gdf.total_bounds), resolution_m)
    return grid.area_ha(rasterize_mask(gdf, grid)), grid, float(gdf.area.sum()) / 1e4


def test_the_area_of_rioja_province(shared_data):
    """Rioja (San Martín, beside Alto Mayo): published 2,661 km² (peru/SOURCES.txt), a UTM 18S planar area.

    icam on a UTM 18S grid counts that figure; the true (geodesic) area is 0.11 % smaller, as UTM's areal
    scale there says; on an equal-area grid icam counts the geodesic area.
    """
    from pyproj import Geod

    path = rioja(shared_data)
    utm_ha, utm_grid, utm_planar_ha = rasterised_area_ha(path, "EPSG:32718", 50)
    assert utm_ha == pytest.approx(utm_planar_ha, rel=1e-4)  # rasterised at 50 m: boundary cells cancel out
    assert utm_ha / 100 == pytest.approx(2_661, abs=1.5)  # km², the published figure
    import geopandas as gpd

    gdf = gpd.read_file(path)
    geodesic_ha = abs(Geod(ellps="WGS84").geometry_area_perimeter(
        gdf[gdf["NOMBPROV"] == "RIOJA"].geometry.iloc[0])[0]) / 1e4
    ratio = utm_ha / geodesic_ha
    assert ratio == pytest.approx(1.00106, abs=1.5e-4)  # UTM overstates Rioja by 0.11 %
    lo, hi = utm_grid.areal_scale_range()
    assert lo <= ratio <= hi and hi - 1 < 0.002  # within the range results.json reports for the grid
    laea = "+proj=laea +lat_0=-6 +lon_0=-77.3 +datum=WGS84 +units=m +no_defs"
    laea_ha, laea_grid, _ = rasterised_area_ha(path, laea, 50)
    assert laea_ha == pytest.approx(geodesic_ha, rel=1e-4)
    assert laea_grid.areal_scale_range() == pytest.approx((1.0, 1.0), abs=1e-9)
