"""The landscape adapter (icam.pipeline.stages.landscape): the last landscape loaded is handed out again while its
sections and files are the same, and read again once a file changes."""

from __future__ import annotations

import os

import numpy as np

from conftest import copy_project
from icam.pipeline.config import load_config
from icam.pipeline.inputs import landscape_input_files
from icam.pipeline.stages.landscape import load_landscape


def test_the_last_landscape_is_handed_out_again_until_a_file_changes(small_project, tmp_path):
    folder = copy_project(small_project, tmp_path / "project")
    config = load_config(folder)
    first = load_landscape(config)
    assert load_landscape(load_config(folder)) is first  # the config read again: the same sections and files
    changed = landscape_input_files(config)[0]
    stat = changed.stat()
    os.utime(changed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    again = load_landscape(config)
    assert again is not first  # read again, and the same content gives the same landscape
    np.testing.assert_array_equal(again.forest.loss_period, first.forest.loss_period)
    np.testing.assert_array_equal(again.zones.project, first.zones.project)
    assert load_landscape(load_config(small_project)) is not again  # another project's files
