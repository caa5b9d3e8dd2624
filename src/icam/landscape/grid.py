"""The project grid: CRS, affine transform and shape, and the true area of its cells.

Areas are true (ellipsoidal) areas. On an equal-area or transverse-Mercator (UTM) grid
a cell's area is its nominal area, resolution², to within UTM's scale error (< 0.1 % in
the zone). On a normal Mercator grid (EPSG:3395, EPSG:3857) a cell of nominal side
``res`` covers res² · k⁻² of ground, where the areal scale k² = sec²(φ) grows with
latitude φ: icam corrects each row with the areal scale PROJ reports at the row's
centre (Snyder 1987, *Map Projections: A Working Manual*, USGS PP 1395, eq. 7-2 and 7-3).
Counting such pixels as res² overstates Guadeloupe's forest by about 8.6 %.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from affine import Affine
from pyproj import CRS, Proj, Transformer
from rasterio.crs import CRS as RioCRS

M2_PER_HA = 10_000.0

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
        return cls(CRS.from_user_input(crs).to_wkt(), Affine(resolution_m, 0, xmin, 0, -resolution_m, ymax), height, width)

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

    def cell_area_ha(self) -> np.ndarray:
        """Ground area of each cell, ha, as a (height, 1) column that broadcasts over the grid."""
        nominal = np.full((self.height, 1), self.nominal_cell_area_ha)
        if not self.is_area_corrected:
            return nominal
        rows = np.arange(self.height) + 0.5
        x_centre = self.transform.c + self.transform.a * self.width / 2
        y = self.transform.f + self.transform.e * rows
        to_geographic = Transformer.from_crs(self.crs, self.crs.geodetic_crs, always_xy=True)
        lon, lat = to_geographic.transform(np.full_like(y, x_centre), y)
        factors = Proj(self.crs).get_factors(lon, lat)
        return nominal / np.asarray(factors.areal_scale)[:, None]

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
            "area_correction": "per-row areal scale (Mercator)" if self.is_area_corrected else "none (nominal cell area)",
        }
