"""A raster in a temporary file, read at cells a range at a time (icam.core.spilled)."""

from __future__ import annotations

import errno
import os
import pickle
import tempfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icam.core import spilled
from icam.core.errors import environment_error
from icam.core.forked import map_shared
from icam.core.spilled import SpilledRaster, chunks_at


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 30), cols=st.integers(1, 30), dtype=st.sampled_from(["float32", "int16", "uint8", "f8"]),
       chunk=st.integers(1, 200), n_cells=st.integers(0, 300), ascending=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_values_at_cells_are_the_arrays_whatever_the_ranges_and_order(rows, cols, dtype, chunk, n_cells, ascending,
                                                                      seed):
    rng = np.random.default_rng(seed)
    array = (rng.normal(size=(rows, cols)) * 100).astype(dtype)
    cells = rng.integers(0, rows * cols, n_cells)  # repeats too
    cells = np.sort(cells) if ascending else cells
    raster = SpilledRaster.of(array)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(spilled, "CHUNK_VALUES", chunk)
        got = raster.at(cells)
    assert got.dtype == array.dtype
    np.testing.assert_array_equal(got, array.ravel()[cells])
    np.testing.assert_array_equal(np.asarray(raster), array)


def test_a_range_is_read_from_its_first_cell_to_its_last_and_empty_ranges_not_at_all():
    array = np.arange(100, dtype=np.int32).reshape(10, 10)
    reads = []
    raster = SpilledRaster.of(array)
    original = raster.read_flat
    raster.read_flat = lambda start, stop: reads.append((start, stop)) or original(start, stop)
    parts = list(chunks_at([raster], np.array([3, 7, 8, 95]), chunk_values=10))
    assert reads == [(3, 9), (95, 96)]  # the range 10…89 holds no cell
    assert [p[0] for p in parts] == [slice(0, 3), slice(3, 4)]
    np.testing.assert_array_equal(parts[0][1], [0, 4, 5])


def test_pickled_it_is_the_array_it_holds():
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    back = pickle.loads(pickle.dumps(SpilledRaster.of(array)))
    assert type(back) is np.ndarray
    np.testing.assert_array_equal(back, array)


def _fill(layers, i):
    layers[i].write(np.full((50, 40), i + 0.5, np.float32))


def test_forked_workers_write_the_layers_this_process_reads():
    layers = [SpilledRaster((50, 40), np.float32) for _ in range(3)]
    map_shared(_fill, layers, [(i,) for i in range(3)], workers=2)
    for i, layer in enumerate(layers):
        np.testing.assert_array_equal(layer.at(np.array([0, 1999])), [i + 0.5, i + 0.5])


def test_an_array_of_another_shape_is_refused():
    with pytest.raises(ValueError, match=r"shape \(3, 4\) cannot hold an array of shape \(4, 3\)"):
        SpilledRaster((3, 4), np.float32).write(np.zeros((4, 3), np.float32))


def test_a_full_disk_names_the_temporary_folder(monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    raster = SpilledRaster((2, 2), np.float32)

    def full(fd, data, offset):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "pwrite", full)
    with pytest.raises(OSError) as caught:
        raster.write(np.zeros((2, 2), np.float32))
    error = environment_error(caught.value)
    assert error is not None
    where = f"a temporary file in {tmp_path} (TMPDIR)"
    assert error.message == f"out of disk space writing {where} (No space left on device)"


def test_without_pread_and_pwrite_the_file_is_read_and_written_by_position(monkeypatch):
    # Windows has neither: the same values through the file object
    monkeypatch.delattr(os, "pwrite")
    monkeypatch.delattr(os, "preadv")
    array = np.arange(300, dtype=np.float32).reshape(15, 20)
    raster = SpilledRaster.of(array)
    np.testing.assert_array_equal(raster.at(np.array([299, 0, 57])), [299.0, 0.0, 57.0])
    np.testing.assert_array_equal(np.asarray(raster), array)
