"""Atomic writes: the whole file or none, and the user's umask (not tempfile's 0600) on what is written."""

import os
import stat

import pytest

from icam.core.atomic import atomic_path, atomic_write_text, create_folder, write_csv_rows


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask():
    """Set the process umask for one test, then put the previous one back."""
    previous = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(previous)


@pytest.mark.parametrize(("mask", "file_mode", "folder_mode"), [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750),
                                                                 (0o077, 0o600, 0o700)])
def test_files_and_folders_follow_the_umask(tmp_path, umask, mask, file_mode, folder_mode):
    umask(mask)
    atomic_write_text(tmp_path / "a.txt", "x")
    write_csv_rows(tmp_path / "b.csv", ["h"], [[1]])
    with atomic_path(tmp_path / "c.gpkg") as tmp:  # a driver creates the file itself
        tmp.write_bytes(b"y")
    folder = create_folder(tmp_path, ".staging-")
    assert [_mode(tmp_path / n) for n in ("a.txt", "b.csv", "c.gpkg")] == [file_mode] * 3
    assert _mode(folder) == folder_mode


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "results.json"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]


def test_created_temporary_exists_with_the_suffix(tmp_path):
    with atomic_path(tmp_path / "map.tif", create=True) as tmp:
        assert tmp.exists() and tmp.suffix == ".tif" and tmp.parent == tmp_path and tmp.name.startswith(".map.")
    assert (tmp_path / "map.tif").exists()
