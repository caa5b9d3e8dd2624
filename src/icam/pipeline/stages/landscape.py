"""The landscape adapter: ``[grid]``, ``[boundaries]`` and ``[forest]`` → the landscape's typed parameters."""

from __future__ import annotations

from dataclasses import fields

from icam.core.errors import InputError
from icam.landscape import Landscape, ingest
from icam.landscape.ingest import Progress
from icam.landscape.sources import SOURCE_KINDS, BoundaryFiles, ForestSource, GridSpec
from icam.pipeline.config import IcamConfig
from icam.pipeline.inputs import file_stamp, landscape_input_files


def forest_source(section) -> ForestSource:
    """The ``[forest]`` section (any of its five kinds) as the landscape's frozen source parameters."""
    cls = SOURCE_KINDS[section.kind]
    return cls(**{f.name: getattr(section, f.name) for f in fields(cls)})


def grid_spec(config: IcamConfig) -> GridSpec:
    """The ``[grid]`` section as a :class:`GridSpec`."""
    bounds = tuple(config.grid.bounds) if config.grid.bounds is not None else None
    return GridSpec(crs=config.grid.crs, resolution_m=config.grid.resolution_m, bounds=bounds)


def boundary_files(config: IcamConfig) -> BoundaryFiles:
    """The ``[boundaries]`` section as :class:`BoundaryFiles`."""
    b = config.boundaries
    return BoundaryFiles(project_area=b.project_area, leakage_belt=b.leakage_belt,
                         reference_region=b.reference_region, admin_units=b.admin_units,
                         admin_unit_field=b.admin_unit_field)


_last_loaded: list = []  # [(key, landscape)]: the last landscape loaded in this process


def load_landscape(config: IcamConfig, progress: Progress | None = None) -> Landscape:
    """Grid, zones and forest of a project, as configured in ``icam.toml``.

    The last one loaded is kept and handed out again while its sections and files (path, size, time) are the
    same: ``icam demo`` reads the simulated project for the reference samples and again in its run (4 s at a
    jurisdiction). Its readers share it as a run's stages do: none changes it."""
    try:
        key = (config.model_dump_json(include={"grid", "boundaries", "forest"}),
               tuple(file_stamp(p) for p in landscape_input_files(config)))
    except InputError:  # a file missing: the ingestion says which, in its own words
        key = None
    if key is not None and _last_loaded and _last_loaded[0][0] == key:
        return _last_loaded[0][1]
    landscape = ingest.load_landscape(grid_spec(config), boundary_files(config), forest_source(config.forest), progress)
    if key is not None:
        _last_loaded[:] = [(key, landscape)]
    return landscape
