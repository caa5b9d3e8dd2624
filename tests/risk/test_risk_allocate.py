"""Baselines from a risk map and nesting (icam.risk.allocate): hand-worked rasters and invariants."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from icam.core.errors import InputError
from icam.risk.allocate import (
    allocate_by_risk,
    density_baseline,
    projected_quantities,
    zone_annual_totals,
)
from icam.risk.nesting import check_masks_disjoint, check_no_overlap, nest_reference_level

# ------------------------------------------------------------------ VT0007 density baseline


def test_density_baseline_by_hand():
    density = np.array([[0.1, 0.2, 0.0],
                        [0.3, 0.4, 0.5],
                        [np.nan, 0.0, 1.0]])  # NaN outside every zone is ignored
    project = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 0]], dtype=bool)
    belt = np.array([[0, 0, 1], [0, 1, 1], [0, 1, 1]], dtype=bool)  # overlaps the project at (1, 1)
    result = density_baseline(density, {"project_area": project, "leakage_belt": belt}, 2025, 2030)
    assert result.ha_per_year["project_area"] == pytest.approx(1.0)
    assert result.ha_per_year["leakage_belt"] == pytest.approx(0.4 + 0.5 + 1.0)
    assert result.zone_px == {"project_area": 4, "leakage_belt": 5}
    assert result.years == [2025, 2026, 2027, 2028, 2029, 2030]
    assert result.by_year["project_area"] == {y: pytest.approx(1.0) for y in range(2025, 2031)}
    assert result.total_ha["leakage_belt"] == pytest.approx(6 * 1.9)
    d = json.loads(json.dumps(result.to_dict()))
    assert d["by_year"]["project_area"]["2030"] == pytest.approx(1.0)
    assert d["zones"] == ["project_area", "leakage_belt"]


def test_density_baseline_refusals():
    density = np.ones((2, 2))
    mask = np.ones((2, 2), bool)
    with pytest.raises(InputError, match="shape"):
        density_baseline(density, {"p": np.ones((3, 2), bool)}, 2025, 2030)
    with pytest.raises(InputError, match="boolean"):
        density_baseline(density, {"p": np.ones((2, 2), int)}, 2025, 2030)
    with pytest.raises(InputError, match="ends before"):
        density_baseline(density, {"p": mask}, 2030, 2025)
    with pytest.raises(InputError, match="2-D"):
        density_baseline(np.ones(4), {"p": mask}, 2025, 2030)
    bad = density.copy()
    bad[0, 0] = -1
    with pytest.raises(InputError, match="1 negative or non-finite"):
        density_baseline(bad, {"p": mask}, 2025, 2030)


# ------------------------------------------------------------------ VM0015 quantities


def test_projected_average_and_trend_by_hand():
    history = {2001: 10.0, 2002: 14.0, 2003: 15.0}
    assert projected_quantities(history, [2005, 2004], "average") == {2004: 13.0, 2005: 13.0}
    # t̄ = 2002, ā = 13, b = ((−1)(−3) + 0 + (1)(2)) / 2 = 2.5
    trend = projected_quantities(history, [2004, 2005], "trend")
    assert trend == {2004: pytest.approx(18.0), 2005: pytest.approx(20.5)}
    # declining: ā = 20/3, b = ((−1)(10/3) + (1)(−8/3)) / 2 = −3 → 2004: 2/3, 2005: −7/3 → 0
    falling = projected_quantities({2001: 10.0, 2002: 6.0, 2003: 4.0}, [2004, 2005], "trend")
    assert falling[2004] == pytest.approx(2 / 3)
    assert falling[2005] == 0.0
    # gaps in the record are fine: the line through (2000, 0) and (2010, 20)
    assert projected_quantities({2000: 0.0, 2010: 20.0}, [2020], "trend") == {2020: pytest.approx(40.0)}


def test_projected_refusals():
    with pytest.raises(InputError, match="at least 2"):
        projected_quantities({2001: 5.0}, [2004], "trend")
    with pytest.raises(InputError, match="≥ 0"):
        projected_quantities({2001: 5.0, 2002: -1.0}, [2004], "average")
    with pytest.raises(InputError, match="unknown"):
        projected_quantities({2001: 5.0}, [2004], "model")
    with pytest.raises(InputError, match="no historical"):
        projected_quantities({}, [2004])
    with pytest.raises(InputError, match="whole year"):
        projected_quantities({2001.5: 5.0}, [2004])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1e4), min_size=2, max_size=12), st.integers(1990, 2010))
def test_trend_is_never_negative_and_average_is_the_mean(values, start):
    history = {start + i: v for i, v in enumerate(values)}
    future = list(range(start + len(values), start + len(values) + 15))
    assert all(v >= 0 for v in projected_quantities(history, future, "trend").values())
    assert projected_quantities(history, future)[future[0]] == pytest.approx(np.mean(values))


# ------------------------------------------------------------------ VM0015 location

RISK_4X4 = np.array([[9, 1, 5, 5],
                     [2, 8, 0, 7],
                     [5, 3, 6, 4],
                     [0, 9, 1, 2]], dtype=np.float64)
FOREST_4X4 = np.ones((4, 4), bool)
FOREST_4X4[1, 1] = FOREST_4X4[3, 0] = False  # risk 8 and one risk 0 are not forest
# descending risk, ties by flat index: 9 (0, 13), 7 (7), 6 (10), 5 (2, 3, 8), 4 (11), 3 (9),
# 2 (4, 15), 1 (1, 14), 0 (6)
RANKED_4X4 = [0, 13, 7, 10, 2, 3, 8, 11, 9, 4, 15, 1, 14, 6]


def test_allocation_4x4_by_hand():
    q = {2022: 3.0, 2021: 2.0, 2023: 0.0, 2024: 1.4, 2025: 1.6}  # any key order; years run in order
    result = allocate_by_risk(RISK_4X4, FOREST_4X4, 1.0, q)
    flat = result.year_map.ravel()
    # cumulative targets 2, 5, 5, 6.4, 8 → pixels with midpoint k − ½ ≤ T: 2, 5, 5, 6, 8
    expected = {0: 2021, 13: 2021, 7: 2022, 10: 2022, 2: 2022, 3: 2024, 8: 2025, 11: 2025}
    assert {int(i): int(flat[i]) for i in np.flatnonzero(flat)} == expected
    assert result.year_map.dtype == np.uint16
    assert result.years == (2021, 2022, 2023, 2024, 2025)
    # 2024 gets 1 ha for 1.4 and 2025 gets 2 ha for 1.6: the difference does not accumulate
    assert result.allocated_ha == {2021: 2.0, 2022: 3.0, 2023: 0.0, 2024: 1.0, 2025: 2.0}
    assert result.allocated_px == {2021: 2, 2022: 3, 2023: 0, 2024: 1, 2025: 2}
    assert result.cumulative_allocated_ha[2025] == result.cumulative_quantity_ha[2025] == 8.0
    assert result.forest_ha == 14.0 and not result.exhausted and result.exhausted_year is None
    d = json.loads(json.dumps(result.to_dict()))
    assert d["allocated_ha"]["2024"] == 1.0 and d["exhausted"] is False and d["shape"] == [4, 4]


def test_allocation_half_pixel_rule_and_exhaustion():
    take = allocate_by_risk(RISK_4X4, FOREST_4X4, 1.0, {2021: 0.5})  # midpoint 0.5 ≤ 0.5: taken
    assert take.allocated_px[2021] == 1 and take.year_map.ravel()[0] == 2021
    assert allocate_by_risk(RISK_4X4, FOREST_4X4, 1.0, {2021: 0.49}).allocated_px[2021] == 0
    out = allocate_by_risk(RISK_4X4, FOREST_4X4, 1.0, {2021: 10.0, 2022: 10.0, 2023: 1.0})
    assert out.allocated_ha == {2021: 10.0, 2022: 4.0, 2023: 0.0}
    assert out.exhausted and out.exhausted_year == 2022
    assert np.array_equal(out.year_map > 0, FOREST_4X4)
    assert list(out.year_map.ravel()[RANKED_4X4]) == [2021] * 10 + [2022] * 4


def test_allocation_uses_true_cell_areas_per_row():
    rows = np.array([[1.0], [2.0], [3.0], [4.0]])  # ha per cell, one value per row (Grid.cell_area_ha)
    result = allocate_by_risk(RISK_4X4, FOREST_4X4, rows, {2021: 6.0})
    # ranked areas 1 (row 0), 4 (row 3), 2 (row 1), …: C = 1, 5, 7; midpoints 0.5, 3, 6 ≤ 6
    assert result.allocated_px[2021] == 3 and result.allocated_ha[2021] == 7.0
    assert result.forest_ha == 4 * 1 + 3 * 2 + 4 * 3 + 3 * 4
    full = np.broadcast_to(rows, (4, 4)).copy()
    assert np.array_equal(allocate_by_risk(RISK_4X4, FOREST_4X4, full, {2021: 6.0}).year_map, result.year_map)


def test_allocation_refusals():
    with pytest.raises(InputError, match="NaN on 1 forest"):
        risk = RISK_4X4.copy()
        risk[0, 0] = np.nan
        allocate_by_risk(risk, FOREST_4X4, 1.0, {2021: 1.0})
    with pytest.raises(InputError, match="shape"):
        allocate_by_risk(RISK_4X4, np.ones((3, 4), bool), 1.0, {2021: 1.0})
    with pytest.raises(InputError, match="≥ 0"):
        allocate_by_risk(RISK_4X4, FOREST_4X4, 1.0, {2021: -1.0})
    with pytest.raises(InputError, match="1..65535"):
        allocate_by_risk(RISK_4X4, FOREST_4X4, 1.0, {0: 1.0})
    with pytest.raises(InputError, match="positive"):
        allocate_by_risk(RISK_4X4, FOREST_4X4, 0.0, {2021: 1.0})
    with pytest.raises(InputError, match="broadcast"):
        allocate_by_risk(RISK_4X4, FOREST_4X4, np.ones((3, 1)), {2021: 1.0})


def test_zone_annual_totals_by_hand():
    result = allocate_by_risk(RISK_4X4, FOREST_4X4, 1.0, {2021: 2.0, 2022: 3.0, 2023: 0.0})
    top = np.zeros((4, 4), bool)
    top[:2] = True  # flat 0..7: pixels 0 (2021), 7 and 2 (2022)
    left = np.zeros((4, 4), bool)
    left[:, :2] = True  # pixels 0 (2021), 13 (2021)
    totals = zone_annual_totals(result.year_map, 1.0, {"top": top, "left": left}, years=[2021, 2022, 2023])
    assert totals == {"top": {2021: 1.0, 2022: 2.0, 2023: 0.0}, "left": {2021: 2.0, 2022: 0.0, 2023: 0.0}}
    rows = np.array([[1.0], [2.0], [3.0], [4.0]])
    assert zone_annual_totals(result.year_map, rows, {"left": left}) == {"left": {2021: 1.0 + 4.0, 2022: 0.0}}


def _reference_allocation(risk, forest, area, quantities):
    """The rule written out pixel by pixel (the slow way), for comparison."""
    order = sorted(np.flatnonzero(forest.ravel()), key=lambda i: (-risk.ravel()[i], i))
    areas = area.ravel()
    out = np.zeros(forest.size, np.uint16)
    cumulative, k, target = 0.0, 0, 0.0
    for year in sorted(quantities):
        target += quantities[year]
        while k < len(order) and cumulative + areas[order[k]] / 2 <= target:
            cumulative += areas[order[k]]
            out[order[k]] = year
            k += 1
    return out.reshape(forest.shape)


@st.composite
def _allocation_cases(draw):
    rows, cols = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    risk = draw(hnp.arrays(np.float64, (rows, cols), elements=st.integers(0, 4).map(float)))  # many ties
    forest = draw(hnp.arrays(bool, (rows, cols)))
    row_area = draw(hnp.arrays(np.float64, (rows, 1), elements=st.floats(0.25, 2.0)))
    years = draw(st.lists(st.integers(2000, 2040), min_size=1, max_size=6, unique=True))
    amounts = draw(st.lists(st.floats(0, 8), min_size=len(years), max_size=len(years)))
    return risk, forest, row_area, dict(zip(years, amounts))


@settings(max_examples=150, deadline=None)
@given(_allocation_cases())
def test_allocation_invariants(case):
    risk, forest, row_area, quantities = case
    result = allocate_by_risk(risk, forest, row_area, quantities)
    ym = result.year_map
    area = np.broadcast_to(row_area, risk.shape)
    a_max = float(row_area.max())
    eps = 1e-9
    # only forest, each pixel at most once (one year per cell), only baseline years
    assert not (ym[~forest] > 0).any()
    assert set(np.unique(ym[ym > 0]).tolist()) <= set(quantities)
    assert np.array_equal(ym, _reference_allocation(risk, forest, area, quantities))
    # never more than the forest; counts and areas agree with the map
    assert sum(result.allocated_ha.values()) <= result.forest_ha + eps
    totals = zone_annual_totals(ym, row_area, {"all": np.ones(risk.shape, bool)}, years=list(quantities))["all"]
    for year in quantities:
        assert result.allocated_px[year] == np.count_nonzero(ym == year)
        assert totals[year] == pytest.approx(result.allocated_ha[year], abs=eps)
    # within half a pixel of the cumulative quantity, one pixel of each year's, until forest runs out
    cum_q, cum_a = result.cumulative_quantity_ha, result.cumulative_allocated_ha
    for year in result.years:
        if result.exhausted_year is None or year < result.exhausted_year:
            assert abs(cum_a[year] - cum_q[year]) <= a_max / 2 + eps
            assert abs(result.allocated_ha[year] - quantities[year]) <= a_max + eps
        else:
            assert cum_q[year] > result.forest_ha and np.array_equal(ym > 0, forest)
    # static ranking: earlier years hold risks at least as high as later years and the rest of the forest
    for year in result.years:
        now = risk[ym == year]
        later = risk[forest & ((ym == 0) | (ym > year))]
        if now.size and later.size:
            assert now.min() >= later.max()


# ------------------------------------------------------------------ nesting


def test_no_overlap_touching_is_fine_and_overlap_is_named():
    a = shapely.box(0, 0, 200, 100)
    check_no_overlap({"A": a, "B": shapely.box(200, 0, 400, 100), "C": shapely.box(0, 100, 200, 300)})
    with pytest.raises(InputError) as error:
        check_no_overlap({"Alto": a, "Bajo": shapely.box(150, 0, 300, 100), "Far": shapely.box(1e4, 0, 1e4 + 10, 10)})
    text = str(error.value)
    assert "'Alto'" in text and "'Bajo'" in text and "0.5 ha" in text and "Far" not in text  # 50 m × 100 m
    with pytest.raises(InputError, match="'A' and 'inside'"):
        check_no_overlap({"A": a, "inside": shapely.box(10, 10, 20, 20)})


def test_no_overlap_many_projects_and_invalid():
    squares = {f"p{i}": shapely.box(i % 50 * 100, i // 50 * 100, i % 50 * 100 + 100, i // 50 * 100 + 100)
               for i in range(2500)}
    check_no_overlap(squares)  # 2,500 touching squares: one tree query
    squares["late"] = shapely.box(4950, 4950, 5050, 5050)
    with pytest.raises(InputError, match="'late'"):
        check_no_overlap(squares)
    bowtie = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])
    with pytest.raises(InputError, match="invalid project geometry: bow"):
        check_no_overlap({"bow": bowtie, "ok": shapely.box(50, 50, 60, 60)})


def test_masks_disjoint_names_the_pair_and_count():
    a = np.zeros((3, 3), bool)
    a[0] = True
    b = np.zeros((3, 3), bool)
    b[:, 2] = True  # shares (0, 2) with a
    c = np.zeros((3, 3), bool)
    c[2, 0] = True
    check_masks_disjoint({"a": a, "c": c})
    with pytest.raises(InputError, match="'a' and 'b' share 1 pixels"):
        check_masks_disjoint({"a": a, "b": b, "c": c})


def test_nesting_by_hand():
    density = np.array([[0.0, 0.1, 0.2, np.nan],
                        [0.3, 0.4, 0.0, np.nan],
                        [0.5, 0.0, 0.5, np.nan]])  # Σ over the jurisdiction = 2.0
    jurisdiction = np.zeros((3, 4), bool)
    jurisdiction[:, :3] = True
    a = np.zeros((3, 4), bool)
    a[0, :2] = True  # 0.1
    b = np.zeros((3, 4), bool)
    b[1:, 0] = True  # 0.3 + 0.5 = 0.8
    result = nest_reference_level(1000.0, density, jurisdiction, {"A": a, "B": b})
    assert result.jurisdiction_density_ha_per_year == pytest.approx(2.0)
    assert result.share == {"A": pytest.approx(0.05), "B": pytest.approx(0.4)}
    assert result.allocation_ha_per_year == {"A": pytest.approx(50.0), "B": pytest.approx(400.0)}
    assert result.unallocated_ha_per_year == pytest.approx(550.0)
    assert result.project_px == {"A": 2, "B": 2}
    d = json.loads(json.dumps(result.to_dict()))
    assert d["allocation_ha_per_year"]["B"] == pytest.approx(400.0)


def test_nesting_refusals():
    density = np.ones((2, 3))
    jurisdiction = np.array([[1, 1, 0], [1, 1, 0]], bool)
    a = np.array([[1, 0, 1], [0, 0, 1]], bool)  # 2 pixels outside
    with pytest.raises(InputError, match=r"outside the jurisdiction: 'A' \(2 pixels\)"):
        nest_reference_level(10.0, density, jurisdiction, {"A": a})
    b = np.array([[1, 1, 0], [0, 0, 0]], bool)
    c = np.array([[0, 1, 0], [0, 1, 0]], bool)
    with pytest.raises(InputError, match="'B' and 'C' share 1 pixels"):
        nest_reference_level(10.0, density, jurisdiction, {"B": b, "C": c})
    with pytest.raises(InputError, match="0 everywhere"):
        nest_reference_level(10.0, np.zeros((2, 3)), jurisdiction, {"B": b})
    with pytest.raises(InputError, match="reference level"):
        nest_reference_level(-1.0, density, jurisdiction, {"B": b})


@st.composite
def _nesting_cases(draw):
    rows, cols = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    density = draw(hnp.arrays(np.float64, (rows, cols), elements=st.floats(0, 5, allow_subnormal=False)))
    jurisdiction = draw(hnp.arrays(bool, (rows, cols)))
    labels = draw(hnp.arrays(np.int64, (rows, cols), elements=st.integers(0, 5))) * jurisdiction
    rl = draw(st.floats(0, 1e6))
    return rl, density, jurisdiction, labels


@settings(max_examples=150, deadline=None)
@given(_nesting_cases())
def test_nesting_invariants(case):
    rl, density, jurisdiction, labels = case
    masks = {f"p{k}": labels == k for k in range(1, 6) if (labels == k).any()}
    if not masks or not density[jurisdiction].sum() > 0:
        return
    result = nest_reference_level(rl, density, jurisdiction, masks)
    allocations = list(result.allocation_ha_per_year.values())
    assert all(v >= 0 for v in allocations) and result.unallocated_ha_per_year >= 0
    assert math.fsum(allocations) + result.unallocated_ha_per_year == pytest.approx(rl, rel=1e-12, abs=1e-9)
    assert sum(result.project_px.values()) == np.count_nonzero(labels)  # each pixel in one project
    for name, mask in masks.items():
        expected = rl * (density[mask].sum() / density[jurisdiction].sum())
        assert result.allocation_ha_per_year[name] == pytest.approx(expected, rel=1e-9, abs=1e-9)
    check_masks_disjoint(masks)


def test_earlier_years_do_not_depend_on_later_years():
    # a small total sorts only the reachable pixels, a huge one every forest pixel: same ranking
    rng = np.random.default_rng(7)
    risk = rng.integers(0, 10, (300, 300)).astype(np.float32)
    forest = rng.random((300, 300)) < 0.8
    rows = np.linspace(0.08, 0.1, 300)[:, None]
    short = allocate_by_risk(risk, forest, rows, {2021: 50.0, 2022: 75.5})
    long = allocate_by_risk(risk, forest, rows, {2021: 50.0, 2022: 75.5, 2023: 1e6})
    assert long.exhausted and not short.exhausted
    assert np.array_equal(np.where(long.year_map == 2023, 0, long.year_map), short.year_map)
