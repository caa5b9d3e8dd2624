"""The VT0007 benchmark risk map (icam.risk.benchmark): hand-worked rasters and Guadeloupe."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rasterio
from affine import Affine
from hypothesis import example, given, settings
from hypothesis import strategies as st

from icam.core.errors import InputError
from icam.landscape.grid import Grid
from icam.risk import workflow
from icam.risk.benchmark import (
    class_limits_m,
    distance_to_edge_capped_m,
    distance_to_edge_m,
    fit_relative_frequency,
    modelling_regions,
    negligible_risk_threshold_m,
    predict_density,
    region_admin,
    region_class,
    vulnerability_classes,
)
from icam.risk.quantity import adjust_to_quantity, density_per_year

UTM = "EPSG:32718"


def utm_grid(shape, res=30.0):
    return Grid.from_bounds(UTM, (300_000, 9_300_000, 300_000 + shape[1] * res, 9_300_000 + shape[0] * res), res)


# ------------------------------------------------------------------ distance

def test_distance_by_hand():
    forest = np.ones((5, 5), dtype=bool)
    forest[0, 0] = False
    d = distance_to_edge_m(forest, utm_grid(forest.shape))
    assert d.dtype == np.float32
    assert d[0, 0] == 0
    assert d[0, 1] == 30 and d[1, 0] == 30
    assert d[1, 1] == pytest.approx(30 * math.sqrt(2))
    assert d[4, 4] == pytest.approx(30 * math.sqrt(32))
    assert d[2, 4] == pytest.approx(30 * math.sqrt(4 + 16))


def test_distance_uses_row_and_column_spacing_and_no_edge():
    forest = np.array([[0, 1, 1, 1]], dtype=bool).repeat(3, axis=0)
    d = distance_to_edge_m(forest, Affine(20, 0, 0, 0, -10, 0))
    assert list(d[1]) == [0, 20, 40, 60]
    assert np.isinf(distance_to_edge_m(np.ones((3, 3), bool), 30.0)).all()


# ------------------------------------------------------------------ NRT

def test_nrt_is_midpoint_of_the_bin_reaching_995():
    # 1000 loss pixels: 990 at 30 m, 5 at 90 m, 4 at 150 m, 1 at 300 m
    d = np.array([30.0] * 990 + [90.0] * 5 + [150.0] * 4 + [300.0])
    # cumulative share: bin [30,60) 0.990, bin [90,120) 0.995 → midpoint 105 m
    assert negligible_risk_threshold_m(d, 30.0) == 105.0
    # one more pixel moved out of the 90 m bin: 0.994 there, 0.998 at [150,180) → 165 m
    d2 = np.array([30.0] * 990 + [90.0] * 4 + [150.0] * 5 + [300.0])
    assert negligible_risk_threshold_m(d2, 30.0) == 165.0
    assert negligible_risk_threshold_m(np.array([42.4, 42.5, 59.9]), 30.0, share=1.0) == 45.0
    with pytest.raises(InputError):
        negligible_risk_threshold_m(np.array([np.inf]), 30.0)


# ------------------------------------------------------------------ classes

def test_class_limits_by_hand():
    # NRT 120 m, 30 m cells, 4 classes: 3 geometric classes, r = (30/120)^(1/3)
    limits = class_limits_m(120.0, 30.0, n_classes=4)
    r = 0.25 ** (1 / 3)
    assert limits == pytest.approx([120, 120 * r, 120 * r * r, 30])
    assert limits[1] == pytest.approx(75.5953, abs=1e-4) and limits[2] == pytest.approx(47.6220, abs=1e-4)
    d = np.array([[0, 29, 30, 47.6, 47.63, 75.59, 75.6, 119.9, 120, 500]])
    forest = d > 0
    assert vulnerability_classes(d, forest, 120.0, 30.0, n_classes=4).tolist() == [[0, 4, 4, 4, 3, 3, 2, 2, 1, 1]]


def test_default_thirty_classes():
    nrt, cell = 1005.0, 30.0
    limits = class_limits_m(nrt, cell)
    r = (cell / nrt) ** (1 / 29)
    assert limits.size == 30 and limits[0] == nrt and limits[-1] == cell
    assert np.allclose(limits[1:] / limits[:-1], r)
    # the upper limit of class i+2 is UL·r^i, its lower limit UL·r^(i+1): test each band's ends
    lower, upper = limits[1:], limits[:-1]
    d = np.concatenate([lower, np.nextafter(upper, 0)])
    got = vulnerability_classes(d, np.ones(d.shape, bool), nrt, cell)
    expected = np.arange(2, 31)
    assert got[:29].tolist() == expected.tolist() and got[29:].tolist() == expected.tolist()
    widths = upper - lower
    assert (np.diff(widths) < 0).all()  # classes narrow towards the edge (class 30)


# ------------------------------------------------------------------ regions

def test_region_encoding_5000_units_no_collision():
    classes, admin = np.meshgrid(np.arange(31), np.arange(5000), indexing="ij")
    regions = modelling_regions(classes, admin)
    assert regions.dtype == np.int32  # ids up to 31 × 5000 fit in int32
    assert np.unique(regions).size == 31 * 5000
    # unit ids past 2³¹ / 31 switch to int64 and still do not collide (UDef-ARP's int16 would past 999)
    big = modelling_regions(np.array([1, 2, 1]), np.array([2**31 // 31 + 5, 2**31 // 31 + 5, 2**31 // 31 + 6]))
    assert big.dtype == np.int64 and np.unique(big).size == 3
    assert (region_admin(big) == [2**31 // 31 + 5, 2**31 // 31 + 5, 2**31 // 31 + 6]).all()
    assert (region_class(regions) == classes).all() and (region_admin(regions) == admin).all()
    with pytest.raises(InputError):
        modelling_regions(np.array([1]), np.array([-1]))


# ------------------------------------------------------------------ fit and predict

def test_relative_frequency_by_hand_3x3():
    classes = np.array([[1, 1, 2],
                        [1, 2, 2],
                        [0, 2, 2]], dtype=np.uint8)
    admin = np.array([[1, 1, 1],
                      [2, 2, 2],
                      [2, 2, 2]])
    forest = classes > 0
    lost = np.array([[0, 1, 1],
                     [0, 0, 1],
                     [1, 0, 0]], dtype=bool)  # the loss at (2,0) is outside the forest: ignored
    fit = fit_relative_frequency(classes, admin, lost, forest)
    # regions: (1,u1) 2 px 1 lost; (2,u1) 1 px 1 lost; (1,u2) 1 px 0 lost; (2,u2) 4 px 1 lost
    ids = modelling_regions(np.array([1, 2, 1, 2]), np.array([1, 1, 2, 2]))
    assert fit.region_ids.tolist() == ids.tolist()
    assert fit.forest_px.tolist() == [2, 1, 1, 4]
    assert fit.deforested_px.tolist() == [1, 1, 0, 1]
    assert fit.relative_frequency.tolist() == [0.5, 1.0, 0.0, 0.25]
    # class 1: 1/3 across units; class 2: 2/5
    assert fit.class_frequency[1] == pytest.approx(1 / 3) and fit.class_frequency[2] == pytest.approx(2 / 5)
    density = predict_density(fit, classes, admin, 0.09)
    assert density == pytest.approx(0.09 * np.array([[0.5, 0.5, 1.0], [0.0, 0.25, 0.25], [0, 0.25, 0.25]]))


def test_unseen_region_takes_class_frequency():
    classes = np.array([[1, 2], [1, 2]], dtype=np.uint8)
    fit = fit_relative_frequency(classes, np.array([[1, 1], [2, 2]]), np.array([[1, 1], [0, 0]], bool), classes > 0)
    # unit 7 was not in the fit; class 3 has no forest anywhere → 0
    new_classes = np.array([[1, 2, 3, 0]], dtype=np.uint8)
    density = predict_density(fit, new_classes, np.array([[7, 7, 7, 7]]), np.array([[2.0]]))
    assert density.tolist() == [[2 * 0.5, 2 * 0.5, 0.0, 0.0]]
    assert predict_density(fit, new_classes, 2, 1.0).tolist() == [[0.0, 0.0, 0.0, 0.0]]


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 30), cols=st.integers(1, 30), forest_share=st.floats(0, 1), nrt_m=st.floats(31, 900),
       n_units=st.integers(1, 6), seed=st.integers(0, 10_000), float32=st.booleans())
def test_classes_and_region_counts_in_one_pass_are_numpys(rows, cols, forest_share, nrt_m, n_units, seed, float32):
    """The compiled passes (icam.risk.benchmark_passes) against the definitions in numpy: each class from the
    number of limits at or below the distance (NaN and off-forest cells 0, infinite distances class 1), and the
    fit's counts against those of the pixels gathered (the path taken where ids are past a dense count)."""
    rng = np.random.default_rng(seed)
    forest = rng.random((rows, cols)) < forest_share
    distance = (rng.random((rows, cols)) * 1000).astype(np.float32 if float32 else np.float64)
    distance[rng.random((rows, cols)) < 0.05] = np.nan
    distance[rng.random((rows, cols)) < 0.05] = np.inf
    classes = vulnerability_classes(distance, forest, nrt_m, 30.0)
    limits = class_limits_m(nrt_m, 30.0)
    j = np.searchsorted(limits[::-1], distance.astype(np.float64), side="right")
    expected = np.where(forest & ~np.isnan(distance), np.clip(limits.size + 1 - j, 1, limits.size), 0)
    np.testing.assert_array_equal(classes, expected)
    units = rng.integers(0, n_units + 1, (rows, cols)).astype(np.int32)
    lost = forest & (rng.random((rows, cols)) < 0.3)
    if not (forest & (classes > 0)).any():
        return
    dense = fit_relative_frequency(classes, units, lost, forest)
    counted = forest & (classes > 0)
    gathered = modelling_regions(classes[counted], units[counted])
    ids, forest_px = np.unique(gathered, return_counts=True)
    np.testing.assert_array_equal(dense.region_ids, ids)
    np.testing.assert_array_equal(dense.forest_px, forest_px)
    np.testing.assert_array_equal(dense.deforested_px, [np.count_nonzero(lost[counted][gathered == i]) for i in ids])


def test_region_ids_past_a_dense_count_are_counted_on_the_gathered_pixels():
    """Unit ids whose regions pass a dense count's bins (2³¹ / 31 here) take the gathered path: the same fit."""
    classes = np.array([[1, 2], [1, 3]], dtype=np.uint8)
    lost = np.array([[True, False], [False, True]])
    big = np.array([[2**31 // 31 + 5, 2**31 // 31 + 5], [3, 3]], dtype=np.int64)
    fit = fit_relative_frequency(classes, big, lost, classes > 0)
    assert fit.region_ids.tolist() == sorted(modelling_regions(classes, big).ravel().tolist())
    assert fit.forest_px.tolist() == [1, 1, 1, 1] and fit.deforested_px.tolist() == [0, 1, 1, 0]


# ------------------------------------------------------------------ quantity

def test_adjustment_scales_to_expected_and_caps():
    area = np.array([[1.0, 1.0, 1.0, 1.0]])
    density = np.array([[0.5, 0.1, 0.1, 0.0]])
    out, n = adjust_to_quantity(density, 0.35, area)
    assert out.sum() == pytest.approx(0.35) and n == 1 and out[0, 3] == 0
    out, n = adjust_to_quantity(density, 1.5, area, max_iter=50, tolerance=1e-12)
    assert out[0, 0] == 1.0 and out.sum() == pytest.approx(1.5) and (out <= area).all()
    # infeasible: every pixel with density at its area, the sum short of the expected
    out, n = adjust_to_quantity(density, 5.0, area)
    assert out.tolist() == [[1.0, 1.0, 1.0, 0.0]] and n == 5
    assert adjust_to_quantity(density, 0.7, area)[0].sum() == pytest.approx(0.7)
    assert density_per_year(np.array([10.0]), 4).tolist() == [2.5]
    temporary = np.array([10.0, 6.0])  # the caller's temporary takes the result
    assert density_per_year(temporary, 4, overwrite=True) is temporary and temporary.tolist() == [2.5, 1.5]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 1.0)), min_size=1, max_size=40), st.floats(0.01, 2.0),
       st.floats(0.0, 1.2), st.sampled_from(["udef-arp", "exact"]))
def test_one_cell_area_broadcast_adjusts_as_the_same_area_in_every_cell(densities, area_ha, fraction, method):
    """An equal-area grid's cell area comes as one value broadcast over the pixels, which the adjustment keeps so
    (no copy per pixel): the same result, to the bit, as an array holding that area in every cell."""
    density = np.array(densities) * area_ha
    if density.sum() == 0:
        return
    expected = fraction * area_ha * np.count_nonzero(density)
    broadcast = np.broadcast_to(np.float64(area_ha), density.shape)
    full = np.full(density.shape, area_ha)
    by_view, n_view = adjust_to_quantity(density, expected, broadcast, method=method)
    by_array, n_array = adjust_to_quantity(density, expected, full, method=method)
    assert n_view == n_array
    np.testing.assert_array_equal(by_view, by_array)


@settings(max_examples=80, deadline=None)
# relative frequencies: 0, or at least one loss in 10⁹ pixels (densities far below float range are not maps)
@given(st.lists(st.tuples(st.one_of(st.just(0.0), st.floats(1e-9, 1.0)), st.floats(0.01, 2.0)),
                min_size=1, max_size=40),
       st.floats(0.0, 1.2))
@example(cells=[(1.0, 0.5), (1.0, 0.5)], fraction=5e-324)  # the expected area underflows after one pass
def test_adjustment_property(cells, fraction):
    area = np.array([a for _, a in cells])
    density = np.array([d for d, _ in cells]) * area
    forest_area = area[density > 0].sum()  # the forest the density map can place loss on
    expected = fraction * forest_area
    if density.sum() == 0:
        return
    exact, _ = adjust_to_quantity(density, expected, area, method="exact")
    udef, _ = adjust_to_quantity(density, expected, area)
    for out in (exact, udef):
        assert out.sum() <= area.sum() * (1 + 1e-12)
        assert (out <= area).all() and (out[density == 0] == 0).all()
    if expected <= forest_area:
        assert exact.sum() == pytest.approx(expected, rel=1e-6, abs=1e-12)
        # UDef-ARP's iteration approaches the same allocation from below when it scales up
        if expected >= density.sum():
            assert udef.sum() <= exact.sum() * (1 + 1e-9)
    else:
        assert exact.tolist() == np.where(density > 0, area, 0.0).tolist()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(1e-6, 1.0), st.floats(0.01, 2.0), st.integers(1, 6)), min_size=1, max_size=12),
       st.floats(0.0, 1.2), st.sampled_from(["udef-arp", "exact"]))
def test_adjusting_groups_equals_adjusting_their_pixels(groups, fraction, method):
    """weights = pixels per group: the grouped adjustment is the per-pixel one, computed on fewer values."""
    density = np.array([d * a for d, a, _ in groups])
    area = np.array([a for _, a, _ in groups])
    n_px = np.array([n for _, _, n in groups])
    expected = fraction * float(area @ n_px)
    grouped, passes = adjust_to_quantity(density, expected, area, method=method, weights=n_px)
    pixels, pixel_passes = adjust_to_quantity(np.repeat(density, n_px), expected, np.repeat(area, n_px),
                                              method=method)
    np.testing.assert_allclose(np.repeat(grouped, n_px), pixels, rtol=1e-9, atol=1e-15)
    assert passes == pixel_passes


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(1e-6, 1.0), st.floats(0.01, 2.0)), min_size=1, max_size=30),
       st.integers(1, 5), st.floats(0.0, 1.2), st.sampled_from(["udef-arp", "exact"]), st.booleans())
def test_a_map_with_density_everywhere_is_adjusted_as_its_pixels_among_zeros(cells, zeros, fraction, method,
                                                                             weighted):
    """Where every pixel has density the adjustment works on the map itself, else on the positive pixels: the
    same values to the bit, with the input left as it was."""
    density = np.array([d * a for d, a in cells])
    area = np.array([a for _, a in cells])
    n_px = np.arange(1, density.size + 1) if weighted else None
    expected = fraction * float(area.sum())
    kept = density.copy()
    alone, passes = adjust_to_quantity(density.reshape(1, -1), expected, area, method=method, weights=n_px)
    padded = np.concatenate([density, np.zeros(zeros)])
    pad_w = None if n_px is None else np.concatenate([n_px, np.ones(zeros, int)])
    among, among_passes = adjust_to_quantity(padded, expected, np.concatenate([area, np.ones(zeros)]),
                                             method=method, weights=pad_w)
    assert alone.shape == (1, density.size) and alone.flags.writeable
    np.testing.assert_array_equal(alone.ravel(), among[:density.size])
    assert (among[density.size:] == 0).all() and passes == among_passes
    np.testing.assert_array_equal(density, kept)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.just(0.0), st.just(-0.0), st.floats(1e-6, 1.0)), min_size=1, max_size=40),
       st.floats(0.0, 1.2), st.sampled_from(["udef-arp", "exact"]), st.booleans())
def test_a_density_that_may_be_overwritten_gives_the_same_result_in_its_own_buffer(densities, fraction, method,
                                                                                  weighted):
    """``overwrite``: the caller's temporary takes the result (no copy of a jurisdiction's forest pixels), the
    same values to the bit, zeros (never −0.0) where the density was not positive; without it the input is left
    as it was."""
    density = np.array(densities) * 0.09
    if not (density > 0).any():
        return
    n_px = np.arange(1, density.size + 1) if weighted else None
    expected = fraction * 0.09 * density.size
    kept = density.copy()
    copied, passes = adjust_to_quantity(density, expected, 0.09, method=method, weights=n_px)
    np.testing.assert_array_equal(density, kept)
    buffer = density.copy()
    in_place, in_place_passes = adjust_to_quantity(buffer, expected, 0.09, method=method, weights=n_px,
                                                   overwrite=True)
    assert in_place.tobytes() == copied.tobytes() and passes == in_place_passes
    everywhere = bool((kept > 0).all())
    assert np.shares_memory(in_place, buffer) or (method == "exact" and everywhere) or expected == 0
    assert not np.signbit(copied[kept <= 0]).any()
    # a map (2-D) whose positive pixels are moved within its buffer, with each pixel's own area: the same bits
    areas = np.full((1, density.size), 0.09)
    weights = None if n_px is None else n_px[None, :]
    on_map, _ = adjust_to_quantity(kept[None, :].copy(), expected, areas, method=method, weights=weights,
                                   overwrite=True)
    assert on_map.shape == (1, density.size) and on_map.tobytes() == copied.tobytes()


@pytest.mark.parametrize("chunk_px", [1, 7, 64])
def test_the_density_predicted_a_slab_at_a_time_is_the_whole_maps(monkeypatch, chunk_px):
    """predict_density works on slabs of rows (or of values): each pixel's density its own, the same bits as the
    whole map at once, on 2-D maps, 1-D pixel lists and a scalar unit, with regions the fit never saw."""
    from icam.risk import benchmark as bm

    rng = np.random.default_rng(11)
    classes = rng.integers(0, 6, (9, 13)).astype(np.uint8)
    admin = rng.integers(0, 4, classes.shape)
    lost = rng.random(classes.shape) < 0.2
    fit = bm.fit_relative_frequency(classes * (admin < 3), admin, lost, classes > 0, n_classes=5)
    area = rng.uniform(0.08, 0.1, (9, 1))
    whole = [bm.predict_density(fit, classes, admin, area), bm.predict_density(fit, classes.ravel(), 2, 0.09)]
    monkeypatch.setattr(bm, "PREDICT_CHUNK_PX", chunk_px)
    sliced = [bm.predict_density(fit, classes, admin, area), bm.predict_density(fit, classes.ravel(), 2, 0.09)]
    for a, b in zip(whole, sliced):
        assert a.tobytes() == b.tobytes() and a.shape == b.shape
    assert (whole[0][classes == 0] == 0).all() and (whole[0][classes > 0] > 0).any()


def test_udef_arp_iteration_converges_to_the_exact_allocation():
    rng = np.random.default_rng(7)
    area = rng.uniform(0.05, 0.1, 500)
    density = rng.uniform(0, 1, 500) ** 4 * area
    expected = 0.8 * area.sum()
    exact, _ = adjust_to_quantity(density, expected, area, method="exact")
    five, passes = adjust_to_quantity(density, expected, area)
    assert passes == 5 and five.sum() < expected  # UDef-ARP's default stops short here
    many, passes = adjust_to_quantity(density, expected, area, max_iter=10_000, tolerance=1e-12)
    assert passes < 10_000 and many == pytest.approx(exact, rel=1e-6, abs=1e-12)
    # λ: uncapped pixels share one factor
    free = exact < area
    assert np.ptp(exact[free] / density[free]) < 1e-9 * (exact[free] / density[free]).max()


# ------------------------------------------------------------------ Guadeloupe

def test_guadeloupe_nrt_and_distance(shared_data):
    folder = shared_data / "guadeloupe"
    if not (folder / "forest_t1.tif").exists():
        pytest.skip("Guadeloupe data absent")
    with rasterio.open(folder / "forest_t1.tif") as src:
        f2000 = src.read(1)
        transform = src.transform
    with rasterio.open(folder / "forest_t2.tif") as src:
        f2010 = src.read(1)
    with rasterio.open(folder / "dist_edge.tif") as src:
        reference = src.read(1).astype(np.float64)
    forest = f2000 == 1
    loss = forest & (f2010 == 0)
    distance = distance_to_edge_m(forest, transform)
    nrt = negligible_risk_threshold_m(distance[loss], 30.0)
    assert math.isfinite(nrt) and nrt > 30
    assert np.mean(distance[loss] <= nrt) >= 0.995
    # dist_edge.tif (forestatrisk) is 0 off forest, rounded to whole metres
    both = forest & (reference > 0)
    assert both.sum() > 0.9 * forest.sum()
    assert np.median(np.abs(distance[both] - reference[both])) <= 30.0
    # it matches the forest of 2010 (forestatrisk's t1 for its 2010–2020 model) cell for cell
    d2010 = distance_to_edge_m(f2010 == 1, transform)
    same = (f2010 == 1) & (reference > 0)
    assert np.mean(np.abs(d2010[same] - reference[same]) <= 1.0) > 0.99
    classes = vulnerability_classes(distance, forest, nrt, 30.0)
    assert set(np.unique(classes[forest])) <= set(range(1, 31))
    assert (classes[~forest] == 0).all()


def test_guadeloupe_fit_predict_adjust(shared_data):
    folder = shared_data / "guadeloupe"
    if not (folder / "forest_t3.tif").exists():
        pytest.skip("Guadeloupe data absent")
    maps = {}
    for name in ("forest_t1", "forest_t2", "forest_t3"):
        with rasterio.open(folder / f"{name}.tif") as src:
            maps[name] = src.read(1) == 1
            grid = Grid(src.crs.to_wkt(), src.transform, src.height, src.width)
    f2000, f2010, f2020 = maps["forest_t1"], maps["forest_t2"], maps["forest_t3"]
    cell = grid.resolution_m
    d2000 = distance_to_edge_m(f2000, grid)
    nrt = negligible_risk_threshold_m(d2000[f2000 & ~f2010], cell)
    fit = fit_relative_frequency(vulnerability_classes(d2000, f2000, nrt, cell), 1, f2000 & ~f2010, f2000)
    # frequencies fall towards the interior: the nearest class is the riskiest, class 1 the least
    seen = fit.class_frequency[fit.class_frequency > 0]
    assert fit.class_frequency[30] == seen.max() and fit.class_frequency[1] == seen.min()
    classes_2010 = vulnerability_classes(distance_to_edge_m(f2010, grid), f2010, nrt, cell)
    area = grid.cell_area_ha()  # true areas: Mercator cells of 0.09 ha nominal cover ~0.083 ha
    density = predict_density(fit, classes_2010, 1, area)
    assert (density[~f2010] == 0).all()
    expected = grid.area_ha(f2010 & ~f2020)  # the actual 2010–2020 loss, as for the CNF test
    adjusted, passes = adjust_to_quantity(density, expected, area)
    assert adjusted.sum() == pytest.approx(expected, rel=1e-5) and passes >= 1
    assert (adjusted <= np.broadcast_to(area, adjusted.shape)).all()
    yearly = density_per_year(adjusted, 10)
    assert yearly.sum() == pytest.approx(expected / 10, rel=1e-5)


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 60), cols=st.integers(1, 60), forest_share=st.floats(0.3, 1.0),
       cell=st.sampled_from([(30.0, 30.0), (30.0, 60.0), (25.0, 10.0)]), cap_cells=st.floats(0.5, 12.0),
       block_px=st.integers(1, 25), seed=st.integers(0, 2**32 - 1))
def test_capped_distance_by_blocks_equals_the_whole_array(rows, cols, forest_share, cell, cap_cells, block_px, seed):
    """Block by block with a halo of the cap, the capped distance to the edge is the whole array's, bit for bit
    (square and rectangular cells, all-forest windows, caps between and beyond cells)."""
    forest = np.random.default_rng(seed).random((rows, cols)) < forest_share
    spacing = Affine(cell[1], 0, 0, 0, -cell[0], 0)
    cap_m = cap_cells * min(cell)
    whole = np.minimum(distance_to_edge_m(forest, spacing), np.float32(cap_m))
    np.testing.assert_array_equal(distance_to_edge_capped_m(forest, spacing, cap_m, block_px=block_px), whole)


def test_capped_distance_by_blocks_on_guadeloupe(shared_data):
    """The same on the real forest map of Guadeloupe in 2000 (riskmapjnr's data, 30 m), 600 m cap, 512-px blocks."""
    path = shared_data / "guadeloupe" / "forest_t1.tif"
    if not path.exists():
        pytest.skip("Guadeloupe data absent")
    with rasterio.open(path) as src:
        forest = src.read(1) == 1
        transform = src.transform
    whole = np.minimum(distance_to_edge_m(forest, transform), np.float32(600.0))
    blocked = distance_to_edge_capped_m(forest, transform, 600.0, block_px=512)
    np.testing.assert_array_equal(blocked, whole)
    assert 0 < np.count_nonzero(blocked == 600.0) < forest.sum()  # the cap binds somewhere, not everywhere


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.integers(1, 6), st.integers(1, 50), st.integers(0, 2**32 - 1))
def test_a_map_spread_from_its_groups_a_range_at_a_time_is_the_map_of_each_pixels_value(rows, cols, n_groups, chunk,
                                                                                       seed):
    """The benchmark's map from its groups' values (float64) equals the map of each pixel's value cast as an
    assignment casts it, whatever the ranges spread at a time."""
    rng = np.random.default_rng(seed)
    index = np.flatnonzero(rng.random(rows * cols) < 0.6)
    group = rng.integers(0, n_groups, index.size)
    per_group = rng.random(n_groups) * 10 ** rng.uniform(-8, 2, n_groups)
    groups = workflow._Groups(index=index, group=group, frequency=per_group, area_ha=np.ones(n_groups),
                              n_px=np.bincount(group, minlength=n_groups))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(workflow, "_SPREAD_PX", chunk)
        got = groups.dense(per_group, (rows, cols))
    expected = workflow.PixelValues(index, per_group[group], (rows, cols)).dense()
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)
