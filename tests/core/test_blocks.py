"""Block-wise raster work (icam.core.blocks): a local function run block by block with a halo at least its
reach gives the whole array's answer exactly; with a smaller halo it does not."""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from icam.core import blocks
from icam.core.blocks import BlockGrid, block_executor, imap, map_blocks, reduce_blocks
from icam.core.errors import InputError

shapes = st.tuples(st.integers(1, 70), st.integers(1, 70))


def focal_max(radius: int):
    """The largest value within ``radius`` pixels (a square window): each pixel reaches ``radius`` around it."""
    return lambda a: ndimage.maximum_filter(a, size=2 * radius + 1, mode="constant", cval=-1)


@settings(max_examples=60, deadline=None)
@given(shape=shapes, block_px=st.integers(1, 40), radius=st.integers(0, 6), extra=st.integers(0, 3),
       seed=st.integers(0, 2**32 - 1))
def test_a_halo_at_least_the_reach_gives_the_whole_answer(shape, block_px, radius, extra, seed):
    raster = np.random.default_rng(seed).integers(0, 1000, size=shape)
    whole = focal_max(radius)(raster)
    blocked = map_blocks(focal_max(radius), [raster], dtype=raster.dtype, halo_px=radius + extra, block_px=block_px)
    np.testing.assert_array_equal(blocked, whole)


def test_a_halo_short_of_the_reach_gives_another_answer():
    """The halo is what makes it exact: one pixel short, the blocks miss a maximum across their edge."""
    raster = np.zeros((20, 20), dtype=int)
    raster[11, 11] = 5  # in the block at (10, 10), a pixel in from its corner
    short = map_blocks(focal_max(2), [raster], dtype=int, halo_px=1, block_px=10)
    whole = focal_max(2)(raster)
    assert whole[9, 9] == 5 and short[9, 9] == 0  # two pixels up-left, in the block at (0, 0): beyond its halo
    np.testing.assert_array_equal(map_blocks(focal_max(2), [raster], dtype=int, halo_px=2, block_px=10), whole)


def test_anisotropic_halo_and_several_inputs():
    rng = np.random.default_rng(3)
    a, b = rng.random((33, 47)), rng.random((33, 47))

    def rows_then_cols(x, y):  # reaches 3 rows and 1 column (a running mean would round by its start: not exact)
        return ndimage.maximum_filter(x, size=(7, 3), mode="constant") + y

    whole = rows_then_cols(a, b)
    np.testing.assert_array_equal(map_blocks(rows_then_cols, [a, b], dtype=float, halo_px=(3, 1), block_px=8), whole)


@settings(max_examples=30, deadline=None)
@given(shape=shapes, block_px=st.integers(1, 40), seed=st.integers(0, 2**32 - 1))
def test_blocks_tile_the_raster_once_and_their_bincounts_sum_to_the_whole(shape, block_px, seed):
    rng = np.random.default_rng(seed)
    zone, cls = rng.integers(0, 4, size=shape), rng.integers(0, 30, size=shape)
    covered = np.zeros(shape, int)
    for window in BlockGrid(shape, block_px).windows():
        covered[window] += 1
    assert (covered == 1).all()

    def counts(z, c):
        return np.bincount((z * 30 + c).ravel(), minlength=120)

    np.testing.assert_array_equal(reduce_blocks(counts, [zone, cls], block_px=block_px), counts(zone, cls))


def test_bad_blocks_are_refused():
    with pytest.raises(InputError, match="one shape"):
        map_blocks(lambda a, b: a, [np.zeros((3, 3)), np.zeros((3, 4))], dtype=float)
    with pytest.raises(InputError, match="halo_px"):
        BlockGrid((3, 3), 2, -1)
    with pytest.raises(InputError, match="returned"):
        map_blocks(lambda a: a[:1], [np.zeros((3, 3))], dtype=float, block_px=2)


def test_imap_keeps_order_and_at_most_ahead_tasks_in_flight():
    submitted, consumed, most = [0], [0], [0]

    def task(i):
        return i * i

    class Counting(ThreadPoolExecutor):
        def submit(self, fn, *args):
            submitted[0] += 1
            most[0] = max(most[0], submitted[0] - consumed[0])
            return super().submit(fn, *args)

    with Counting(2) as pool:
        out = []
        for value in imap(pool, task, range(50), ahead=3):
            consumed[0] += 1
            out.append(value)
    assert out == [i * i for i in range(50)] and most[0] <= 3
    with block_executor("sync") as pool:
        assert list(imap(pool, task, range(4))) == [0, 1, 4, 9]


@pytest.mark.parametrize("scheduler", ["sync", "threads", "processes"])
def test_map_blocks_on_a_pool_gives_the_whole_answer(scheduler):
    """Blocks sent to a pool with their halos (a process pool pickles each block, not the raster) come back cut
    and in place: the whole array's answer."""
    raster = np.random.default_rng(4).integers(0, 1000, size=(45, 61))
    reach_3 = functools.partial(ndimage.maximum_filter, size=7, mode="constant", cval=-1)  # picklable
    with block_executor(scheduler) as pool:
        blocked = map_blocks(reach_3, [raster], dtype=raster.dtype, halo_px=3, block_px=10, pool=pool)
    np.testing.assert_array_equal(blocked, reach_3(raster))


def test_a_dask_scheduler_out_of_reach_is_one_clear_error(monkeypatch):
    import socket

    monkeypatch.setattr(blocks, "CONNECT_SECONDS", 1)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(InputError, match=f"cannot reach the dask scheduler at tcp://127.0.0.1:{port}"):
        with block_executor(f"tcp://127.0.0.1:{port}"):
            pass
