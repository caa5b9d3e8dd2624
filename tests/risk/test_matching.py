"""Matched controls: nearest neighbours in Mahalanobis distance, exact groups, balance."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icam.core.errors import InputError
from icam.risk import matching
from icam.risk.matching import match, sample_cells


def test_each_treated_cell_takes_its_nearest_control_by_hand():
    x = np.array([0.0, 10.0, 1.0, 9.0, 100.0, 50.0])
    m = match({"x": x}, treated=np.array([0, 1]), pool=np.array([2, 3, 4, 5]))
    assert m.controls.tolist() == [2, 3]


def test_mahalanobis_distance_weighs_covariates_by_their_spread():
    # a spreads over ±2000 (m), b over ±2 (degrees). Treated (0, 0); control P = (100, 0), Q = (0, 1). In raw units
    # Q is nearer (1 < 100), but 100 m is a twentieth of a's spread while 1 is half of b's
    corners = [(sa * 2000.0, sb * 2.0) for sa in (-1, 1) for sb in (-1, 1)] * 25
    a = np.array([0.0, 100.0, 0.0] + [c[0] for c in corners])
    b = np.array([0.0, 0.0, 1.0] + [c[1] for c in corners])
    m = match({"a": a, "b": b}, treated=np.array([0]), pool=np.arange(1, a.size))
    assert m.controls.tolist() == [1]
    rescaled = match({"a": a / 1000, "b": b * 1000}, treated=np.array([0]), pool=np.arange(1, a.size))
    assert rescaled.controls.tolist() == [1]  # whitening makes the units irrelevant


def test_groups_match_exactly_and_balance_improves():
    rng = np.random.default_rng(1)
    n = 4000
    x = np.concatenate([rng.normal(2, 1, 400), rng.normal(0, 1, n)])
    groups = np.concatenate([rng.integers(1, 3, 400), rng.integers(1, 3, n)])
    treated, pool = np.arange(400), np.arange(400, 400 + n)
    m = match({"x": x}, treated, pool, groups=groups, n_neighbours=3)
    assert (groups[m.treated] == groups[m.controls]).all()
    assert m.treated.size == 3 * 400
    assert abs(m.smd_after["x"]) < 0.1 < abs(m.smd_before["x"])


def test_no_control_with_covariates_is_refused():
    x = np.array([0.0, np.nan])
    with pytest.raises(InputError, match="no treated or no control"):
        match({"x": x}, treated=np.array([0]), pool=np.array([1]))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 50), st.integers(1, 200), st.integers(0, 10_000))
def test_pairs_stay_inside_the_samples(n_treated, n_pool, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n_treated + n_pool)
    m = match({"x": x}, np.arange(n_treated), np.arange(n_treated, n_treated + n_pool), n_neighbours=2)
    assert set(m.treated.tolist()) <= set(range(n_treated))
    assert set(m.controls.tolist()) <= set(range(n_treated, n_treated + n_pool))
    assert (m.distance >= 0).all()


def test_sample_cells_draws_without_replacement_from_the_mask():
    mask = np.zeros((30, 30), bool)
    mask[5:10, 5:10] = True
    cells = sample_cells(mask, 10, np.random.default_rng(0))
    assert cells.size == 10 == np.unique(cells).size and mask.ravel()[cells].all()
    assert sample_cells(mask, 100, np.random.default_rng(0)).size == 25


def test_without_replacement_the_nearer_treated_cell_keeps_a_contested_control_by_hand():
    # treated 0 at 0.0 and 1 at 0.4 both want control 2 at 0.5; 1 is nearer (0.1 < 0.5), so 0 takes its
    # second choice, control 3 at -1.0 (distance 1.0) rather than control 4 at 3.0
    x = np.array([0.0, 0.4, 0.5, -1.0, 3.0])
    m = match({"x": x}, treated=np.array([0, 1]), pool=np.array([2, 3, 4]), replace=False)
    assert dict(zip(m.treated.tolist(), m.controls.tolist())) == {0: 3, 1: 2}
    assert m.unmatched == 0


def test_calipers_leave_a_treated_cell_without_a_control_out_of_reach():
    # elevation in m: treated 1,000 and 2,000; controls 1,150 and 2,500; with a 200 m caliper the second has none
    elevation = np.array([1000.0, 2000.0, 1150.0, 2500.0])
    m = match({"elevation": elevation}, np.array([0, 1]), np.array([2, 3]), replace=False,
              calipers={"elevation": 200.0})
    assert m.treated.tolist() == [0] and m.controls.tolist() == [2] and m.unmatched == 1
    with pytest.raises(InputError, match="calipers on covariates that are not matched on: slope"):
        match({"elevation": elevation}, np.array([0]), np.array([2]), replace=False, calipers={"slope": 1.0})


@given(n_treated=st.integers(1, 60), n_pool=st.integers(1, 80), width=st.floats(0.05, 3.0), seed=st.integers(0, 99))
@settings(max_examples=40, deadline=None)
def test_without_replacement_every_control_serves_once_and_within_its_caliper(n_treated, n_pool, width, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=n_treated + n_pool), rng.normal(size=n_treated + n_pool)
    treated, pool = np.arange(n_treated), np.arange(n_treated, n_treated + n_pool)
    try:
        m = match({"x": x, "y": y}, treated, pool, replace=False, calipers={"x": width}, n_candidates=10,
                  rng=np.random.default_rng(seed))
    except InputError:
        return  # no treated cell had a control within the caliper among its candidates
    assert np.unique(m.controls).size == m.controls.size  # no control reused
    assert np.unique(m.treated).size == m.treated.size
    assert (np.abs(x[m.treated] - x[m.controls]) <= width).all()
    assert m.treated.size + m.unmatched == n_treated
    assert m.treated.size <= min(n_treated, n_pool)


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 40), st.integers(5, 300), st.integers(1, 9), st.integers(0, 10_000))
def test_streamed_whitening_and_balance_equal_numpys_whole_matrix(n_treated, n_pool, chunk, seed):
    """A jurisdiction's pool is whitened and balanced a chunk of rows at a time; the mean, covariance and SMDs
    are numpy's over the whole matrix (np.cov's two passes, ddof 1), so no pair moves."""
    rng = np.random.default_rng(seed)
    n = n_treated + n_pool
    features = {"a": rng.normal(size=n) * 1000, "b": rng.normal(size=n) + rng.normal(size=n).cumsum() * 0.1,
                "c": rng.integers(0, 3, n).astype(np.float32)}
    treated, pool = np.arange(n_treated), np.arange(n_treated, n)
    columns = list(features.values())
    whole = np.column_stack(columns).astype(np.float64)
    mean, inv_l = matching._whitening(whole[treated], whole[pool])
    np.testing.assert_allclose(mean, whole.mean(axis=0), rtol=1e-12, atol=1e-9)
    cov = np.cov(whole, rowvar=False) + np.eye(3) * 1e-9 * max(1.0, float(np.trace(np.cov(whole, rowvar=False))))
    np.testing.assert_allclose(np.linalg.inv(inv_l) @ np.linalg.inv(inv_l).T, cov, rtol=1e-9, atol=1e-9)
    groups = rng.integers(0, 2, n)

    def paired():  # None where no treated cell's group holds a control (a few pools of five cells)
        try:
            return match(features, treated, pool, groups=groups, replace=False, rng=np.random.default_rng(1))
        except InputError:
            return None

    in_one_chunk = paired()
    original, matching.CHUNK_ROWS = matching.CHUNK_ROWS, chunk
    try:
        chunked = paired()
    finally:
        matching.CHUNK_ROWS = original
    if in_one_chunk is None:
        assert chunked is None
        return
    assert chunked.treated.tolist() == in_one_chunk.treated.tolist()
    assert chunked.controls.tolist() == in_one_chunk.controls.tolist()
    sd = np.sqrt((whole[treated].var(axis=0) + whole[pool].var(axis=0)) / 2)
    expected_before = (whole[treated].mean(axis=0) - whole[pool].mean(axis=0)) / np.where(sd > 0, sd, 1) * (sd > 0)
    np.testing.assert_allclose([chunked.smd_before[k] for k in features], expected_before, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 80), st.integers(1, 200), st.floats(0.02, 2.0), st.floats(0.02, 2.0), st.integers(0, 10_000))
def test_skipping_rows_with_no_control_in_their_caliper_box_changes_no_pair(n_treated, n_pool, width_x, width_y,
                                                                            seed):
    """The caliper-box test only skips queries whose every candidate would be out of caliper: the pairs are
    those of querying every row (covariates on a coarse grid, so that boundary distances occur)."""
    rng = np.random.default_rng(seed)
    n = n_treated + n_pool
    features = {"x": np.round(rng.normal(size=n), 1), "y": np.round(rng.normal(size=n) * 2, 1),
                "z": rng.normal(size=n)}
    treated, pool = np.arange(n_treated), np.arange(n_treated, n)
    calipers, groups = {"x": width_x, "y": width_y}, rng.integers(0, 3, n)

    def pairs():
        try:
            m = match(features, treated, pool, groups=groups, replace=False, calipers=calipers, n_candidates=5,
                      rng=np.random.default_rng(seed))
        except InputError:
            return None
        return m.treated.tolist(), m.controls.tolist(), m.distance.tolist(), m.unmatched

    boxed = pairs()
    original, matching._in_caliper_box = matching._in_caliper_box, lambda *args, **kwargs: None
    try:
        assert pairs() == boxed
    finally:
        matching._in_caliper_box = original


def test_caliper_box_by_hand():
    # treated at x = 0 and 5; controls at 0.3 and 9: only the first treated row has one within a caliper of 0.5
    x_t, x_c = np.array([[0.0, 1.0], [5.0, 1.0]]), np.array([[0.3, 7.0], [9.0, 1.0]])
    assert matching._in_caliper_box(x_t, x_c, np.array([0.5, np.inf])).tolist() == [True, False]
    assert matching._in_caliper_box(x_t, x_c, np.array([0.5, 1.0])).tolist() == [False, False]
    assert matching._in_caliper_box(x_t, x_c, np.array([0.3, np.inf])).tolist() == [True, False]  # at the edge
    assert matching._in_caliper_box(x_t, x_c, np.array([np.inf, np.inf])) is None


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 3000), st.floats(0, 1), st.integers(1, 3000), st.integers(0, 2**32 - 1))
def test_sample_cells_are_the_sorted_choice_of_the_masks_cells_and_leave_the_generator_alike(size, share, n, seed):
    mask = np.random.default_rng(seed).random(size) < share
    rng, reference = np.random.default_rng(seed + 1), np.random.default_rng(seed + 1)
    cells = np.flatnonzero(mask)
    expected = cells if cells.size <= n else np.sort(reference.choice(cells, size=n, replace=False))
    got = sample_cells(mask, n, rng)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, expected)
    assert rng.random() == reference.random()  # the next draws are the same
    # a raster's mask: its flat indices, row-major
    np.testing.assert_array_equal(sample_cells(mask.reshape(-1, 1), n, np.random.default_rng(seed + 1)), expected)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.integers(1, 6), st.integers(1, 40), st.integers(1, 25), st.integers(0, 2**32 - 1))
def test_the_scan_finds_the_trees_neighbours_and_distances_to_the_bit(n_data, n_dims, n_points, k, seed):
    from sklearn.neighbors import KDTree

    rng = np.random.default_rng(seed)
    data, points = rng.normal(size=(n_data, n_dims)) * 3, rng.normal(size=(n_points, n_dims)) * 4
    k = min(k, n_data)
    d_tree, j_tree = KDTree(data).query(points, k=k)
    d_scan, j_scan = matching.BruteForce(data).query(points, k=k)
    np.testing.assert_array_equal(j_scan, j_tree)
    np.testing.assert_array_equal(d_scan, d_tree)


@settings(max_examples=10, deadline=None)
@given(st.integers(matching.SCAN_BLOCK + 1, 3 * matching.SCAN_BLOCK), st.integers(1, 25), st.integers(0, 2**32 - 1))
def test_the_scan_over_several_blocks_keeps_the_nearest_and_the_lower_index_of_ties(n_data, k, seed):
    rng = np.random.default_rng(seed)
    data = np.round(rng.normal(size=(n_data, 3)))  # integers: few values, ties within and across blocks
    points = np.round(rng.normal(size=(7, 3)) * 2)
    squares = ((points[:, None, :] - data[None, :, :]) ** 2).sum(axis=2)  # exact: sums of small integers
    expected = np.argsort(squares, axis=1, kind="stable")[:, :k]
    distance, index = matching.BruteForce(data).query(points, k=k)
    np.testing.assert_array_equal(index, expected)
    np.testing.assert_array_equal(distance, np.sqrt(np.take_along_axis(squares, expected, axis=1)))


def test_the_scan_breaks_ties_by_the_lower_index_by_hand():
    data = np.array([[3.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
    distance, index = matching.BruteForce(data).query(np.array([[0.0, 0.0]]), k=4)
    assert index.tolist() == [[1, 2, 3, 0]] and distance.tolist() == [[1.0, 1.0, 1.0, 3.0]]
    with pytest.raises(ValueError, match="k = 6"):
        matching.BruteForce(data).query(np.zeros((1, 2)), k=6)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 60), st.integers(5, 400), st.booleans(), st.integers(0, 10_000))
def test_pairs_are_the_same_by_scan_or_by_tree(n_treated, n_pool, replace, seed):
    """Which of the two finds the neighbours (few queried rows: a scan) changes no pair on continuous covariates."""
    rng = np.random.default_rng(seed)
    n = n_treated + n_pool
    features = {"x": rng.normal(size=n), "y": rng.normal(size=n) * 2, "z": rng.normal(size=n)}
    treated, pool = np.arange(n_treated), np.arange(n_treated, n)

    def pairs(threshold):
        original, matching.BUILD_DISTANCES_PER_CONTROL = matching.BUILD_DISTANCES_PER_CONTROL, threshold
        try:
            m = match(features, treated, pool, replace=replace, n_neighbours=3,
                      calipers=None if replace else {"x": 0.5}, rng=np.random.default_rng(seed))
        except InputError:
            return None
        finally:
            matching.BUILD_DISTANCES_PER_CONTROL = original
        return m.treated.tolist(), m.controls.tolist(), m.distance.tolist(), m.unmatched

    assert pairs(0) == pairs(10**9)  # every group by tree; every group by scan


def test_few_queried_rows_are_scanned_and_many_go_to_a_tree():
    from sklearn.neighbors import KDTree

    controls = np.zeros((10, 2))
    assert isinstance(matching._nearest_index(controls, matching.BUILD_DISTANCES_PER_CONTROL - 1),
                      matching.BruteForce)
    assert isinstance(matching._nearest_index(controls, matching.BUILD_DISTANCES_PER_CONTROL), KDTree)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 200), st.integers(1, 50), st.integers(1, 8), st.integers(0, 10_000))
def test_the_chunked_query_on_every_core_equals_one_query(n_points, chunk, k, seed):
    """Rows split into chunks (at least four a core, however few rows) and queried in threads: the same
    neighbours, distances and ties as one query of every row."""
    from sklearn.neighbors import KDTree

    rng = np.random.default_rng(seed)
    data = rng.integers(0, 4, size=(60, 3)).astype(float)  # crowded values: many ties
    points = rng.integers(0, 4, size=(n_points, 3)).astype(float)
    tree = KDTree(data)
    d_one, j_one = tree.query(points, k=k)
    d_chunked, j_chunked = matching._query(tree, points, k, chunk=chunk)
    np.testing.assert_array_equal(j_chunked, j_one)
    np.testing.assert_array_equal(d_chunked, d_one)


@settings(max_examples=60, deadline=None)
@given(n_cells=st.integers(0, 300), spoiled=st.lists(st.sampled_from([np.nan, np.inf, -np.inf]), max_size=4),
       seed=st.integers(0, 10_000))
def test_finite_rows_are_those_whose_every_covariate_is_finite(n_cells, spoiled, seed):
    """Whichever covariates hold non-finite values (none, some, each: NaN or ±inf, also at cells not asked
    about), the rows kept are the asked cells whose every covariate is finite; an integer covariate is
    finite throughout."""
    rng = np.random.default_rng(seed)
    columns = [rng.normal(size=300).astype(np.float32) for _ in range(4)] + [rng.integers(0, 9, 300)]
    for j, value in enumerate(spoiled):
        columns[j][rng.integers(0, 300, int(rng.integers(1, 20)))] = value
    cells = np.sort(rng.choice(300, n_cells, replace=False))
    kept = cells[np.all([np.isfinite(c[cells]) for c in columns], axis=0)] if n_cells else cells
    assert matching._Rows.finite(columns, cells).cells.tolist() == kept.tolist()


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 400), st.integers(1, 4), st.integers(1, 50), st.integers(0, 10_000))
def test_rows_read_from_the_columns_give_the_matrix_statistics_to_the_bit(n_cells, n_columns, chunk, seed):
    """The pool's rows are read from the covariates where a statistic needs them, not copied into a matrix: the
    moments, means and variances are those of the gathered float32 matrix to the bit (numpy's mean and var),
    and a row with a non-finite covariate is left out."""
    rng = np.random.default_rng(seed)
    columns = [(rng.normal(size=1000) * 10.0 ** rng.integers(-3, 4)).astype(np.float32) for _ in range(n_columns)]
    columns[0][rng.integers(0, 1000, 20)] = np.nan
    cells = np.sort(rng.choice(1000, n_cells, replace=False))
    rows = matching._Rows.finite(columns, cells)
    kept = cells[np.all([np.isfinite(c[cells]) for c in columns], axis=0)]
    assert rows.cells.tolist() == kept.tolist()
    matrix = np.column_stack([c[kept] for c in columns])
    original, matching.CHUNK_ROWS = matching.CHUNK_ROWS, chunk
    try:
        for mean in (None, matrix.astype(np.float64).mean(axis=0)):
            n, total = matching._moments(rows, mean)
            n_expected, expected = matching._moments(matrix, mean)
            assert n == n_expected and np.array_equal(total, expected)
    finally:
        matching.CHUNK_ROWS = original
    if kept.size:
        mean, var = matching._mean_var(rows.column(j) for j in range(n_columns))
        each = [matrix[:, j].astype(np.float64) for j in range(n_columns)]  # a column at a time, contiguous
        assert mean.tolist() == [c.mean() for c in each] and var.tolist() == [c.var() for c in each]
