"""The project's extent, from ``icam.toml``: where the registry's records (parcels, tracks, observations) may lie."""

from __future__ import annotations

import shapely

from icam.landscape.vector import read_features
from icam.pipeline.config import IcamConfig
from icam.store.extent import Extent


def project_extent(config: IcamConfig) -> Extent | None:
    """The union of the bounding boxes of the grid's bounds and the boundaries (project area, leakage belt,
    reference region) in the grid's CRS; None where the config names neither."""
    crs, b = config.grid.crs, config.boundaries
    boxes = [shapely.box(*config.grid.bounds)] if config.grid.bounds else []
    for key, path in (("project_area", b.project_area), ("leakage_belt", b.leakage_belt),
                      ("reference_region", b.reference_region)):
        if path is not None and path.is_file():
            boxes.append(shapely.box(*shapely.total_bounds(read_features(path, crs, f"boundaries.{key}"))))
    return Extent(shapely.union_all(boxes), crs) if boxes else None
