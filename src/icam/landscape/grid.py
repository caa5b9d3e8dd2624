"""The project grid: CRS, affine transform and shape, and the true area of its cells.

Areas are true (ellipsoidal) areas. On a normal Mercator grid (EPSG:3395, EPSG:3857) a cell
of nominal side ``res`` covers res² · k⁻² of ground, where the areal scale k² = sec²(φ) grows
with latitude φ: icam corrects each row with the areal scale PROJ reports at the row's centre
(Snyder 1987, *Map Projections: A Working Manual*, USGS PP 1395, eq. 7-2 and 7-3). Counting such
pixels as res² overstates Guadeloupe's forest by about 8.6 %. On an equal-area grid a cell's
area is res². On a transverse-Mercator (UTM) grid the areal scale k² depends on the distance to
the central meridian (0.9992 on it, about 1.002 at a zone's edge at the equator): icam keeps
res² there and reports the range of k² over the grid (:meth:`Grid.areal_scale_range`); a grid
whose uncorrected scale departs from 1 by more than ``MAX_AREAL_SCALE_ERROR`` is refused
(docs/methods.md, "Areas").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from affine import Affine
from pyproj import CRS, Proj, Transformer
from rasterio.crs import CRS as RioCRS

M2_PER_HA = 10_000.0
# largest departure of the uncorrected areal scale from 1 accepted anywhere on a grid (a UTM zone
# used up to about 6° from its central meridian); docs/methods.md, "Areas"
MAX_AREAL_SCALE_ERROR = 0.01
_SCALE_LATTICE = 9  # points per side of the lattice on which the areal scale is sampled

# PROJ method names of projections whose scale varies with latitude only and is far from 1
_CYLINDRICAL_CONFORMAL = {"Mercator (variant A)", "Mercator (variant B)", "Popular Visualisation Pseudo Mercator"}


@dataclass(frozen=True)
class Grid:
    """A north-up raster grid: ``crs`` (WKT), ``transform`` (affine, metres) and ``shape`` (rows, cols)."""

    crs_wkt: str
    transform: Affine
    height: int
    width: int

    @classmethod
    def from_bounds(cls, crs: str | CRS, bounds: tuple[float, float, float, float], resolution_m: float) -> "Grid":
        """The grid of cell size ``resolution_m`` covering ``bounds``, snapped outwards to multiples of it."""
        xmin, ymin, xmax, ymax = bounds
        xmin = math.floor(xmin / resolution_m) * resolution_m
        ymin = math.floor(ymin / resolution_m) * resolution_m
        xmax = math.ceil(xmax / resolution_m) * resolution_m
        ymax = math.ceil(ymax / resolution_m) * resolution_m
        width = int(round((xmax - xmin) / resolution_m))
        height = int(round((ymax - ymin) / resolution_m))
        transform = Affine(resolution_m, 0, xmin, 0, -resolution_m, ymax)
        return cls(CRS.from_user_input(crs).to_wkt(), transform, height, width)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.height, self.width)

    @property
    def crs(self) -> CRS:
        return CRS.from_wkt(self.crs_wkt)

    @property
    def rio_crs(self) -> RioCRS:
        return RioCRS.from_wkt(self.crs_wkt)

    @property
    def resolution_m(self) -> float:
        return abs(self.transform.a)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        xmin, ymax = self.transform.c, self.transform.f
        return (xmin, ymax + self.height * self.transform.e, xmin + self.width * self.transform.a, ymax)

    @property
    def n_px(self) -> int:
        return self.height * self.width

    @property
    def nominal_cell_area_ha(self) -> float:
        return abs(self.transform.a * self.transform.e) / M2_PER_HA

    @property
    def is_area_corrected(self) -> bool:
        """True where cells' ground areas differ from the nominal area and are corrected per row."""
        operation = self.crs.coordinate_operation
        return operation is not None and operation.method_name in _CYLINDRICAL_CONFORMAL

    def areal_scale(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """PROJ's areal scale (map area / ground area) at grid-CRS points ``x``, ``y`` (m); inf outside the
        projection's domain."""
        to_geographic = Transformer.from_crs(self.crs, self.crs.geodetic_crs, always_xy=True)
        lon, lat = to_geographic.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        scale = np.asarray(Proj(self.crs).get_factors(lon, lat).areal_scale, dtype=float)
        return np.where(np.isfinite(scale) & (scale > 0), scale, np.inf)

    def _row_centres(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x_centre = self.transform.c + self.transform.a * self.width / 2
        y = self.transform.f + self.transform.e * rows
        return np.full_like(y, x_centre), y

    def cell_area_ha(self) -> np.ndarray:
        """Ground area of each cell, ha, as a (height, 1) column that broadcasts over the grid."""
        nominal = np.full((self.height, 1), self.nominal_cell_area_ha)
        if not self.is_area_corrected:
            return nominal
        x, y = self._row_centres(np.arange(self.height) + 0.5)
        return nominal / self.areal_scale(x, y)[:, None]

    def cell_area_at_ha(self, index: np.ndarray) -> np.ndarray:
        """:meth:`cell_area_ha` at the cells of ``index`` (flat, row-major), float64. Where every cell has the
        same area (no per-row correction) a read-only view of that one value: at a jurisdiction the areas of
        its 36 million forest pixels would be 0.29 GB of equal numbers."""
        if not self.is_area_corrected:
            return np.broadcast_to(np.float64(self.nominal_cell_area_ha), np.shape(index))
        return self.cell_area_ha()[:, 0][np.asarray(index) // self.width]

    def areal_scale_range(self) -> tuple[float, float]:
        """(lowest, highest) ratio of the area icam counts to the true ground area, over a lattice of points
        spanning the grid: 1 on an equal-area grid or where a Mercator grid's rows are corrected, k² on UTM
        (0.9992 on the central meridian). inf where part of the grid is outside the CRS's domain."""
        xmin, ymin, xmax, ymax = self.bounds
        x, y = np.meshgrid(np.linspace(xmin, xmax, _SCALE_LATTICE), np.linspace(ymin, ymax, _SCALE_LATTICE))
        scale = self.areal_scale(x.ravel(), y.ravel())
        if self.is_area_corrected:  # what the per-row factor, taken at the row's centre column, leaves
            scale = scale / self.areal_scale(np.full(x.size, (xmin + xmax) / 2), y.ravel())
            scale = np.where(np.isfinite(scale) & (scale > 0), scale, np.inf)
        return float(scale.min()), float(scale.max())

    def area_ha(self, mask: np.ndarray) -> float:
        """Ground area of the cells where ``mask`` is true, ha."""
        per_row = np.count_nonzero(mask, axis=1)
        return float(per_row @ self.cell_area_ha()[:, 0])

    def same_as(self, other: "Grid", tolerance_px: float = 1e-3) -> bool:
        """Same CRS, shape and transform (to ``tolerance_px`` of a cell)."""
        if self.shape != other.shape or not self.crs.equals(other.crs, ignore_axis_order=True):
            return False
        res = self.resolution_m
        return all(abs(a - b) <= tolerance_px * res for a, b in zip(self.transform[:6], other.transform[:6]))

    def to_dict(self) -> dict:
        """Summary for results.json and the manifest."""
        epsg = self.crs.to_epsg()
        return {
            "crs": f"EPSG:{epsg}" if epsg else self.crs.to_string(),
            "crs_name": self.crs.name,
            "resolution_m": self.resolution_m,
            "width": self.width,
            "height": self.height,
            "bounds": list(self.bounds),
            "transform": list(self.transform)[:6],
            "n_px": self.n_px,
            "nominal_cell_area_ha": self.nominal_cell_area_ha,
            "area_correction": ("per-row areal scale (Mercator)" if self.is_area_corrected
                                else "none (nominal cell area)"),
            # counted / true area over the grid (docs/methods.md, "Areas"): the error left uncorrected
            "areal_scale_range": [round(v, 6) if math.isfinite(v) else None for v in self.areal_scale_range()],
        }


def coordinates_problem(bounds: tuple[float, float, float, float], crs) -> str | None:
    """Why a layer's ``bounds`` (xmin, ymin, xmax, ymax, in its own ``crs``) cannot be where its CRS says, or None.

    Longitudes/latitudes beyond ±360°/±90° under a geographic CRS (typically UTM metres labelled
    EPSG:4326), or projected coordinates that PROJ cannot take back to longitude/latitude.
    """
    crs = CRS.from_user_input(crs)
    xmin, ymin, xmax, ymax = (float(v) for v in bounds)
    if not all(math.isfinite(v) for v in (xmin, ymin, xmax, ymax)):
        return "has coordinates that are not finite numbers"
    shown = f"x {xmin:.7g} to {xmax:.7g}, y {ymin:.7g} to {ymax:.7g}"
    name = f"EPSG:{crs.to_epsg()}" if crs.to_epsg() else crs.name
    if crs.is_geographic:
        if min(xmin, -xmax) < -360 or min(ymin, -ymax) < -90:
            return f"has coordinates ({shown}) that are not degrees, as its CRS {name} says: its CRS looks wrong"
        return None
    x = np.array([xmin, xmax, xmin, xmax, (xmin + xmax) / 2])
    y = np.array([ymin, ymin, ymax, ymax, (ymin + ymax) / 2])
    try:
        lon, lat = Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True).transform(x, y)
    except Exception:  # noqa: BLE001 - PROJ raises several classes outside a projection's domain
        lon = lat = np.array([np.inf])
    if not (np.all(np.isfinite(lon)) and np.all(np.isfinite(lat)) and np.all(np.abs(lat) <= 90)):
        return f"has coordinates ({shown}) outside what its CRS {name} can express: its CRS looks wrong"
    return None
