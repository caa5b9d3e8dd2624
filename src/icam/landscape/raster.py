"""Raster IO: read one file or a mosaic of tiles onto the project grid, write Cloud-Optimized GeoTIFFs.

Reading follows one rule (docs/data.md, "The grid rule"): a raster on the grid's CRS, cell size
and pixel lattice is read with one windowed read per file; a raster on any other grid is
reprojected onto it (nearest neighbour for categories) only when the configuration allows it
(``forest.reproject = true``), never silently. Every problem with a file becomes an
:class:`~icam.core.errors.InputError` naming the file and the configuration key it came from.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio._err import CPLE_BaseError
from rasterio.enums import Resampling
from rasterio.errors import CRSError, RasterioError, RasterioIOError
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from icam.core.atomic import atomic_path
from icam.core.errors import InputError
from icam.landscape.grid import Grid

# a file is on the grid when its cell size and origin match to this fraction of a cell
_ALIGN_TOLERANCE_PX = 1e-3
_GLOB_CHARS = set("*?[")

WARP_HINT = ("set `reproject = true` under [forest] in icam.toml to reproject it (nearest neighbour), "
             "or warp it onto the grid first (gdalwarp -t_srs <grid crs> -tr <res> <res> -tap)")


def expand_paths(paths: Path | str | list[Path] | list[str], what: str) -> list[Path]:
    """Files named by ``paths`` (files or glob patterns), sorted; a pattern matching nothing or a missing file is an error."""
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not items:
        raise InputError(f"{what}: no file given", f"list the file(s) under {what} in icam.toml")
    out: list[Path] = []
    for item in items:
        text = str(item)
        if _GLOB_CHARS & set(text):
            matches = sorted(glob.glob(text))
            if not matches:
                raise InputError(f"{what}: no file matches the pattern {text}",
                                 "check the pattern in icam.toml (relative paths start at the project folder)")
            out.extend(Path(m) for m in matches)
        else:
            path = Path(text)
            if not path.exists():
                raise InputError(f"{what}: {path} does not exist",
                                 "check the path in icam.toml (relative paths start at the project folder)")
            out.append(path)
    return list(dict.fromkeys(out))


def open_raster(path: Path | str, what: str) -> rasterio.io.DatasetReader:
    """Open a raster for reading (use as a context manager); a missing, corrupt or CRS-less file is an InputError."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{what}: {path} does not exist",
                         "check the path in icam.toml (relative paths start at the project folder)")
    if path.is_dir():
        raise InputError(f"{what}: {path} is a folder, not a raster file", "name the GeoTIFF file itself")
    try:
        src = rasterio.open(path)
    except (RasterioIOError, RasterioError, CPLE_BaseError) as exc:
        reason = " ".join(str(exc).split())
        raise InputError(f"{what}: {path} cannot be read as a raster ({reason[:160]})",
                         "check that it is a complete GeoTIFF (re-download or re-export it)") from None
    if src.crs is None:
        src.close()
        raise InputError(f"{what}: {path} has no CRS (coordinate reference system)",
                         "assign one (QGIS: Raster > Projections > Assign Projection; gdal_edit.py -a_srs EPSG:xxxx)")
    if src.transform.b != 0 or src.transform.d != 0:
        src.close()
        raise InputError(f"{what}: {path} is rotated (its geotransform has shear terms)",
                         "warp it north-up first (gdalwarp)")
    return src


def same_crs(a, b) -> bool:
    """Whether two CRSs (rasterio or pyproj, EPSG-coded or not) are the same."""
    from pyproj import CRS

    try:
        return CRS.from_user_input(a.to_wkt() if hasattr(a, "to_wkt") else a).equals(
            CRS.from_user_input(b.to_wkt() if hasattr(b, "to_wkt") else b), ignore_axis_order=True)
    except Exception:  # noqa: BLE001 - an unparsable CRS is simply not the same
        return False


def on_grid_offset(src, grid: Grid) -> tuple[int, int] | None:
    """(row, col) of the file's first cell on the grid when the file lies on the grid's lattice, else None."""
    if not same_crs(src.crs, grid.crs):
        return None
    t, g = src.transform, grid.transform
    res = grid.resolution_m
    tol = _ALIGN_TOLERANCE_PX * res
    if abs(t.a - g.a) > tol or abs(t.e - g.e) > tol:
        return None
    col = (t.c - g.c) / res
    row = (g.f - t.f) / res
    if abs(col - round(col)) * res > tol or abs(row - round(row)) * res > tol:
        return None
    return int(round(row)), int(round(col))


def describe_grid(src) -> str:
    crs = src.crs.to_epsg()
    name = f"EPSG:{crs}" if crs else "a custom CRS"
    t = src.transform
    return f"{name}, cell {abs(t.a):g} x {abs(t.e):g}, origin ({t.c:.6g}, {t.f:.6g})"


@dataclass(frozen=True, eq=False)
class GridLayer:
    """A raster read onto the grid.

    data: the values (bands, rows, cols) or (rows, cols), in the file's dtype; ``fill`` where no file covers a cell.
    covered: bool (rows, cols): some file covers the cell (its footprint, nodata cells included).
    nodata: the files' nodata value (None where the files declare none).
    """

    data: np.ndarray
    covered: np.ndarray
    nodata: float | int | None
    files: tuple[Path, ...]

    @property
    def valid(self) -> np.ndarray:
        """Covered and not the nodata value (in every band)."""
        valid = self.covered.copy()
        if self.nodata is not None:
            is_nodata = self.data == self.nodata
            if self.data.ndim == 3:
                is_nodata = is_nodata.any(axis=0)
            valid &= ~is_nodata
        return valid

    def masked(self) -> np.ma.MaskedArray:
        mask = ~self.valid
        if self.data.ndim == 3:
            mask = np.broadcast_to(mask, self.data.shape)
        fill = self.nodata if self.nodata is not None else 0
        return np.ma.MaskedArray(self.data, mask=mask, fill_value=fill)


def read_layer(paths: Path | str | list[Path] | list[str], grid: Grid, *, what: str, allow_reproject: bool,
               band: int | None = 1, categorical: bool = True) -> GridLayer:
    """Read one raster or a mosaic of tiles onto ``grid``, one read per file.

    ``band`` None reads every band (a (bands, rows, cols) array). Files on the grid's lattice are read with
    a window; others are reprojected through a GDAL warped VRT (nearest neighbour when ``categorical``,
    bilinear otherwise) when ``allow_reproject``, and refused otherwise. Where tiles overlap, the first
    file with data wins.
    """
    files = expand_paths(paths, what)
    data = None
    covered = np.zeros(grid.shape, dtype=bool)
    nodata = None
    dtype = None
    n_bands = None
    for path in files:
        with open_raster(path, what) as src:
            bands = list(range(1, src.count + 1)) if band is None else [band]
            if band is not None and band > src.count:
                raise InputError(f"{what}: {path} has {src.count} band(s), band {band} was asked for",
                                 "check the file")
            if data is None:
                dtype = np.dtype(src.dtypes[bands[0] - 1])
                nodata = src.nodatavals[bands[0] - 1]
                n_bands = len(bands)
                fill = nodata if nodata is not None else 0
                data = np.full((n_bands, *grid.shape), fill, dtype=dtype)
            elif len(bands) != n_bands:
                raise InputError(f"{what}: {path} has {len(bands)} bands but {files[0]} has {n_bands}",
                                 "give tiles of one product only")
            file_nodata = src.nodatavals[bands[0] - 1]
            if file_nodata != nodata and not (file_nodata is not None and nodata is not None
                                              and np.isnan(file_nodata) and np.isnan(nodata)):
                raise InputError(f"{what}: {path} has nodata {file_nodata} but {files[0]} has {nodata}",
                                 "give tiles with one nodata value (gdal_translate -a_nodata)")
            try:
                values, file_covered = _read_one(src, grid, bands, what, path, allow_reproject, categorical)
            except (RasterioIOError, RasterioError, CPLE_BaseError, CRSError) as exc:
                reason = " ".join(str(exc).split())
                raise InputError(f"{what}: {path} cannot be read ({reason[:160]})",
                                 "check that it is a complete GeoTIFF (re-download or re-export it)") from None
            if values is None:
                continue
            (r0, r1, c0, c1), block = values
            target = data[:, r0:r1, c0:c1]
            block = block.astype(dtype, copy=False)
            if file_covered.all() and not covered[r0:r1, c0:c1].any():
                target[...] = block  # the usual case: one file, or tiles that do not overlap
            else:
                new = file_covered & ~covered[r0:r1, c0:c1]
                target[:, new] = block[:, new]
            covered[r0:r1, c0:c1] |= file_covered
    assert data is not None
    if band is not None:
        data = data[0]
    return GridLayer(data, covered, nodata, tuple(files))


def _read_one(src, grid: Grid, bands: list[int], what: str, path: Path, allow_reproject: bool, categorical: bool):
    """((r0, r1, c0, c1), block) and the block's coverage, or (None, None) when the file misses the grid."""
    offset = on_grid_offset(src, grid)
    if offset is not None:
        row_off, col_off = offset
        r0, r1 = max(0, row_off), min(grid.height, row_off + src.height)
        c0, c1 = max(0, col_off), min(grid.width, col_off + src.width)
        if r0 >= r1 or c0 >= c1:
            return None, None
        window = Window(c0 - col_off, r0 - row_off, c1 - c0, r1 - r0)
        block = src.read(bands, window=window)
        return ((r0, r1, c0, c1), block), np.ones((r1 - r0, c1 - c0), dtype=bool)
    if not allow_reproject:
        raise InputError(f"{what}: {path} is on another grid ({describe_grid(src)}) than the project grid "
                         f"({_describe_project_grid(grid)})", WARP_HINT)
    resampling = Resampling.nearest if categorical else Resampling.bilinear
    # src_nodata=None: copy nodata cells as values, so that the alpha band marks the footprint only
    with WarpedVRT(src, crs=grid.rio_crs, transform=grid.transform, width=grid.width, height=grid.height,
                   resampling=resampling, src_nodata=None, nodata=None, add_alpha=True) as vrt:
        alpha_index = vrt.count
        block = vrt.read(bands + [alpha_index])
    block_covered = block[-1] > 0
    if not block_covered.any():
        return None, None
    return ((0, grid.height, 0, grid.width), block[:-1]), block_covered


def _describe_project_grid(grid: Grid) -> str:
    epsg = grid.crs.to_epsg()
    name = f"EPSG:{epsg}" if epsg else "a custom CRS"
    t = grid.transform
    return f"{name}, cell {abs(t.a):g} x {abs(t.e):g}, origin ({t.c:.6g}, {t.f:.6g})"


def read_onto_grid(paths: Path | str | list[Path] | list[str], grid: Grid, *, what: str, allow_reproject: bool,
                   band: int | None = 1, categorical: bool = True) -> np.ma.MaskedArray:
    """The raster (one file, or tiles mosaicked) on ``grid``; masked where no file covers a cell or it holds nodata.

    See :func:`read_layer` for the rules; ``what`` is the configuration key named in errors.
    """
    return read_layer(paths, grid, what=what, allow_reproject=allow_reproject, band=band,
                      categorical=categorical).masked()


def raster_bounds(path: Path | str, what: str, crs) -> tuple[float, float, float, float]:
    """The raster's bounds transformed to ``crs`` (densified edges)."""
    from rasterio.warp import transform_bounds

    with open_raster(path, what) as src:
        if same_crs(src.crs, crs):
            return tuple(src.bounds)
        return tuple(transform_bounds(src.crs, crs, *src.bounds, densify_pts=101))


def smallest_dtype(array: np.ndarray, nodata) -> np.dtype:
    """The smallest GeoTIFF dtype holding the array's values and ``nodata``."""
    if array.dtype == bool:
        return np.dtype("uint8")
    if np.issubdtype(array.dtype, np.floating):
        return np.dtype("float32")
    values = [int(array.min()), int(array.max())] if array.size else [0, 0]
    if nodata is not None:
        values.append(int(nodata))
    lo, hi = min(values), max(values)
    for candidate in ("uint8", "uint16", "uint32") if lo >= 0 else ("int16", "int32"):
        info = np.iinfo(candidate)
        if info.min <= lo and hi <= info.max:
            return np.dtype(candidate)
    return np.dtype("int64") if lo < 0 else np.dtype("uint64")


def write_cog(path: Path | str, array: np.ndarray, grid: Grid, nodata, *, categorical: bool = True) -> Path:
    """Write a Cloud-Optimized GeoTIFF (DEFLATE, overviews, ``nodata`` set, smallest dtype) atomically.

    ``array`` is (rows, cols) or (bands, rows, cols); a masked array is filled with ``nodata``. Overviews
    use nearest neighbour for categories, average otherwise. The file is written to a temporary file in
    the same folder, then renamed over ``path``: readers never see half a file, and a failure leaves none.
    """
    path = Path(path)
    if isinstance(array, np.ma.MaskedArray):
        if nodata is None:
            raise ValueError("a masked array needs a nodata value")
        array = array.filled(nodata)
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[None]
    if array.shape[1:] != grid.shape:
        raise ValueError(f"array shape {array.shape[1:]} is not the grid's {grid.shape}")
    dtype = smallest_dtype(array, nodata)
    profile = dict(driver="COG", width=grid.width, height=grid.height, count=array.shape[0], dtype=dtype.name,
                   crs=grid.rio_crs, transform=grid.transform, nodata=nodata, compress="DEFLATE",
                   overview_resampling="nearest" if categorical else "average", blocksize=512,
                   num_threads="all_cpus")  # GDAL compresses the blocks in parallel
    if np.issubdtype(dtype, np.integer):
        profile["predictor"] = 2
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(array.astype(dtype, copy=False))
    return path
