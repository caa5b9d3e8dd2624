"""Where a project's records may lie: the extent that imports check positions against.

A parcel drawn 300 km from the project, a patrol track on another continent or an observation with its
latitude and longitude swapped is a mistake the registry should refuse, not store. The command line gives
the importers the project's extent (icam.toml's boundaries) as an :class:`Extent`; distances are measured
in its projected CRS (metres), which is accurate to well under 1 % at the tens of kilometres of the margins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer


@dataclass(frozen=True)
class Extent:
    """Where a project's records lie: ``geometry`` (e.g. the union of icam.toml's boundaries) in ``crs``, a
    projected CRS in metres. Imports refuse positions farther than a margin from it."""

    geometry: Any
    crs: str

    def distance_m(self, geoms: np.ndarray, crs: Any) -> np.ndarray:
        """Distance (m) of each geometry (in ``crs``) from the extent; 0 inside, inf where it cannot be projected
        (e.g. the other side of the Earth in a UTM zone)."""
        geoms = np.asarray(geoms)
        if CRS.from_user_input(crs) != CRS.from_user_input(self.crs):
            to = Transformer.from_crs(crs, self.crs, always_xy=True)
            geoms = shapely.transform(geoms, lambda xy: np.column_stack(to.transform(xy[:, 0], xy[:, 1])))
        coords, owner = shapely.get_coordinates(geoms, return_index=True)
        finite = np.bincount(owner[~np.isfinite(coords).all(axis=1)], minlength=len(geoms)) == 0
        distance = np.full(len(geoms), np.inf)
        distance[finite] = shapely.distance(geoms[finite], self.geometry)
        return distance

    def lonlat_distance_m(self, lon, lat) -> np.ndarray:
        """Distance (m) of WGS 84 positions (degrees) from the extent; inf where they cannot be projected."""
        to = Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)
        x, y = to.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float), errcheck=False)
        x, y = np.atleast_1d(np.asarray(x, dtype=float)), np.atleast_1d(np.asarray(y, dtype=float))
        finite = np.isfinite(x) & np.isfinite(y)
        distance = np.full(x.shape, np.inf)
        distance[finite] = shapely.distance(shapely.points(x[finite], y[finite]), self.geometry)
        return distance


def far_and_swapped(extent: Extent, lon, lat, margin_m: float) -> tuple[np.ndarray, np.ndarray]:
    """(positions farther than ``margin_m`` from ``extent``, those of them that would lie within it with
    latitude and longitude swapped) for WGS 84 ``lon`` / ``lat`` in degrees."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    far = extent.lonlat_distance_m(lon, lat) > margin_m
    swapped = np.zeros_like(far)
    if far.any():
        ok = far & (np.abs(lon) <= 90)
        swapped[ok] = extent.lonlat_distance_m(lat[ok], lon[ok]) <= margin_m
    return far, swapped


__all__ = ["Extent", "far_and_swapped"]
