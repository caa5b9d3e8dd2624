"""Raster IO: read one file or a mosaic of tiles onto the project grid, write Cloud-Optimized GeoTIFFs.

Reading follows one rule (docs/data.md, "The grid rule"): a raster on the grid's CRS, cell size
and pixel lattice is read with one windowed read per file; a raster on any other grid is
reprojected onto it (nearest neighbour for categories) only when the configuration allows it
(``forest.reproject = true``), never silently. Every problem with a file becomes an
:class:`~icam.core.errors.InputError` naming the file and the configuration key it came from.
"""

from __future__ import annotations

import glob
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from pyproj import CRS
from rasterio._err import CPLE_BaseError
from rasterio.enums import Resampling
from rasterio.errors import CRSError, RasterioError, RasterioIOError
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from icam.core.atomic import atomic_path
from icam.core.errors import InputError
from icam.landscape.grid import Grid, coordinates_problem

# a file is on the grid when its origin matches the grid's lattice to this fraction of a cell, its cell
# size the grid's to RESOLUTION_REL_TOL (0.01 %), and the cell sizes' difference adds up over the file to
# less than _MAX_DRIFT_PX of a cell (then a windowed read picks the cell nearest neighbour would)
_ALIGN_TOLERANCE_PX = 1e-3
RESOLUTION_REL_TOL = 1e-4
_MAX_DRIFT_PX = 0.25
_GLOB_CHARS = set("*?[")

WARP_HINT = "set reproject = true under [forest], or warp it onto the grid (gdalwarp -t_srs CRS -tr RES RES -tap)"


def expand_paths(paths: Path | str | list[Path] | list[str], what: str) -> list[Path]:
    """Files named by ``paths`` (files or glob patterns), sorted; a pattern matching nothing or a missing file
    is an error."""
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


def _reason(exc: Exception, path: Path) -> str:
    """GDAL's message in one short line, the file named by its name only (the key already says where)."""
    return " ".join(str(exc).replace(str(path), path.name).split())[:120]


def open_raster(path: Path | str, what: str) -> rasterio.io.DatasetReader:
    """Open a raster for reading (use as a context manager); a missing, corrupt or CRS-less file, or one whose
    coordinates cannot be in its CRS, is an InputError."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{what}: {path} does not exist",
                         "check the path in icam.toml (relative paths start at the project folder)")
    if path.is_dir():
        raise InputError(f"{what}: {path} is a folder, not a raster file", "name the GeoTIFF file itself")
    try:
        src = rasterio.open(path)
    except (RasterioIOError, RasterioError, CPLE_BaseError) as exc:
        raise InputError(f"{what}: {path.name} cannot be read as a raster ({_reason(exc, path)})",
                         "check that it is a complete GeoTIFF (re-download or re-export it)") from None
    if src.crs is None:
        src.close()
        raise InputError(f"{what}: {path.name} has no CRS (coordinate reference system)",
                         "assign one (gdal_edit.py -a_srs EPSG:xxxx; QGIS: Assign Projection)")
    if src.transform.b != 0 or src.transform.d != 0:
        src.close()
        raise InputError(f"{what}: {path.name} is rotated (its geotransform has shear terms)",
                         "warp it north-up first (gdalwarp)")
    problem = coordinates_problem(tuple(src.bounds), src.crs.to_wkt())
    if problem is not None:
        src.close()
        raise InputError(f"{what}: {path.name} {problem}",
                         "set the right CRS (gdal_edit.py -a_srs EPSG:xxxx, or QGIS: Assign Projection)")
    return src


def same_cell_size(a: float, b: float) -> bool:
    """Whether two cell sizes (m) are equal to :data:`RESOLUTION_REL_TOL` (0.01 %)."""
    return math.isclose(abs(a), abs(b), rel_tol=RESOLUTION_REL_TOL)


def same_crs(a, b) -> bool:
    """Whether two CRSs (rasterio or pyproj, EPSG-coded or not) are the same."""

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
    if not (same_cell_size(t.a, g.a) and same_cell_size(t.e, g.e)) or t.a * g.a < 0 or t.e * g.e < 0:
        return None
    if max(abs(t.a - g.a) * src.width, abs(t.e - g.e) * src.height) > _MAX_DRIFT_PX * res:
        return None
    col = (t.c - g.c) / res
    row = (g.f - t.f) / res
    if abs(col - round(col)) * res > tol or abs(row - round(row)) * res > tol:
        return None
    return int(round(row)), int(round(col))


def describe_grid(crs, transform) -> str:
    """A grid in a few words for messages: its CRS, cell size (m, to 0.000001) and origin."""
    epsg = crs.to_epsg()
    name = f"EPSG:{epsg}" if epsg else "a custom CRS"
    t = transform
    size = f"{abs(t.a):.10g}" if abs(t.a) == abs(t.e) else f"{abs(t.a):.10g} x {abs(t.e):.10g}"
    unit = "°" if crs.is_geographic else " m"
    return f"{name}, {size}{unit} cells from ({t.c:.10g}, {t.f:.10g})"


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
            is_nodata = np.isnan(self.data) if np.isnan(self.nodata) else self.data == self.nodata
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
               band: int | None = 1, categorical: bool = True, band_key: str | None = None) -> GridLayer:
    """Read one raster or a mosaic of tiles onto ``grid``, one read per file.

    ``band`` None reads every band (a (bands, rows, cols) array). ``band_key``: the configuration key that
    chooses the band; when given, a file with several bands is refused unless that key was set (the caller
    passes ``band_key`` only when it was not). Files on the grid's lattice are read with a window; others
    are reprojected through a GDAL warped VRT (nearest neighbour when ``categorical``, bilinear otherwise)
    when ``allow_reproject``, and refused otherwise. Where tiles overlap, the first file with data wins.
    """
    files = expand_paths(paths, what)
    data, nodata = None, None
    covered = np.zeros(grid.shape, dtype=bool)
    for path in files:
        with open_raster(path, what) as src:
            bands = _bands(src, band, band_key, what, path)
            if data is None:
                nodata = src.nodatavals[bands[0] - 1]
                data = np.full((len(bands), *grid.shape), nodata if nodata is not None else 0,
                               dtype=np.dtype(src.dtypes[bands[0] - 1]))
            _check_same_product(src, bands, data.shape[0], nodata, what, path, files[0])
            try:
                values, file_covered = _read_one(src, grid, bands, what, path, allow_reproject, categorical,
                                                 data, covered)
            except (RasterioIOError, RasterioError, CPLE_BaseError, CRSError) as exc:
                raise InputError(f"{what}: {path.name} cannot be read ({_reason(exc, path)})",
                                 "check that it is a complete GeoTIFF (re-download or re-export it)") from None
            if values is None or values is _IN_PLACE:
                continue
            (r0, r1, c0, c1), block = values
            target = data[:, r0:r1, c0:c1]
            block = block.astype(data.dtype, copy=False)
            if file_covered.all() and not covered[r0:r1, c0:c1].any():
                target[...] = block
            else:
                new = file_covered & ~covered[r0:r1, c0:c1]
                target[:, new] = block[:, new]
            covered[r0:r1, c0:c1] |= file_covered
    assert data is not None
    if band is not None:
        data = data[0]
    return GridLayer(data, covered, nodata, tuple(files))


def _bands(src, band: int | None, band_key: str | None, what: str, path: Path) -> list[int]:
    """The band numbers to read from ``src``: every band, or the one asked for (refused when it is absent)."""
    if band is None:
        return list(range(1, src.count + 1))
    if band_key is not None and src.count > 1:
        raise InputError(f"{what}: {path.name} has {src.count} bands and icam reads one",
                         f"set {band_key} = N (1 to {src.count}) to choose the band")
    if not 1 <= band <= src.count:
        raise InputError(f"{what}: {path.name} has {src.count} band(s), band {band} was asked for",
                         "set band to one of the file's bands")
    return [band]


def _check_same_product(src, bands: list[int], n_bands: int, nodata, what: str, path: Path, first: Path) -> None:
    """Tiles of one layer have the same number of bands and the same nodata value."""
    if len(bands) != n_bands:
        raise InputError(f"{what}: {path.name} has {len(bands)} bands but {first.name} has {n_bands}",
                         "give tiles of one product only")
    file_nodata = src.nodatavals[bands[0] - 1]
    both_nan = file_nodata is not None and nodata is not None and np.isnan(file_nodata) and np.isnan(nodata)
    if file_nodata != nodata and not both_nan:
        raise InputError(f"{what}: {path.name} has nodata {file_nodata} but {first.name} has {nodata}",
                         "give tiles with one nodata value (gdal_translate -a_nodata)")


_IN_PLACE = object()  # :func:`_read_one` read the file straight into the layer


def _read_one(src, grid: Grid, bands: list[int], what: str, path: Path, allow_reproject: bool, categorical: bool,
              data: np.ndarray, covered: np.ndarray):
    """((r0, r1, c0, c1), block) and the block's coverage, or (None, None) when the file misses the grid.

    A file on the grid's lattice whose cells no earlier file covered is read straight into ``data`` (the usual
    case: one file, or tiles that do not overlap), and marked in ``covered``: (``_IN_PLACE``, None); a block
    and a copy of it would double the memory the read holds (490 MB more for a jurisdiction's alert layer)."""
    offset = on_grid_offset(src, grid)
    if offset is not None:
        row_off, col_off = offset
        r0, r1 = max(0, row_off), min(grid.height, row_off + src.height)
        c0, c1 = max(0, col_off), min(grid.width, col_off + src.width)
        if r0 >= r1 or c0 >= c1:
            return None, None
        window = Window(c0 - col_off, r0 - row_off, c1 - c0, r1 - r0)
        if data.dtype == np.dtype(src.dtypes[bands[0] - 1]) and not covered[r0:r1, c0:c1].any():
            src.read(bands, window=window, out=data[:, r0:r1, c0:c1])
            covered[r0:r1, c0:c1] = True
            return _IN_PLACE, None
        block = src.read(bands, window=window)
        return ((r0, r1, c0, c1), block), np.ones((r1 - r0, c1 - c0), dtype=bool)
    if not allow_reproject:
        raise InputError(f"{what}: {path.name} is on another grid ({describe_grid(src.crs, src.transform)}) than "
                         f"the project's ({describe_grid(grid.crs, grid.transform)})", WARP_HINT)
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


def read_onto_grid(paths: Path | str | list[Path] | list[str], grid: Grid, *, what: str, allow_reproject: bool,
                   band: int | None = 1, categorical: bool = True) -> np.ma.MaskedArray:
    """The raster (one file, or tiles mosaicked) on ``grid``; masked where no file covers a cell or it holds nodata.

    See :func:`read_layer` for the rules; ``what`` is the configuration key named in errors.
    """
    return read_layer(paths, grid, what=what, allow_reproject=allow_reproject, band=band,
                      categorical=categorical).masked()


def raster_bounds(path: Path | str, what: str, crs) -> tuple[float, float, float, float]:
    """The raster's bounds transformed to ``crs`` (densified edges)."""

    with open_raster(path, what) as src:
        if same_crs(src.crs, crs):
            return tuple(src.bounds)
        bounds = tuple(transform_bounds(src.crs, crs, *src.bounds, densify_pts=101))
    if not all(math.isfinite(v) for v in bounds):
        raise InputError(f"{what}: {Path(path).name} lies where the grid CRS cannot express it",
                         "check the file's CRS and grid.crs, or give grid.bounds")
    return bounds


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


COG_BLOCK_PX = 512  # the COG's tiles, and the size under which it has no overview


def write_cog(path: Path | str, array: np.ndarray, grid: Grid, nodata, *, categorical: bool = True) -> Path:
    """Write a Cloud-Optimized GeoTIFF (DEFLATE, overviews, ``nodata`` set, smallest dtype) atomically.

    ``array`` is (rows, cols) or (bands, rows, cols); a masked array is filled with ``nodata``. Overviews
    use nearest neighbour for categories, average otherwise. The file is written to a temporary file in
    the same folder, then renamed over ``path``: readers never see half a file, and a failure leaves none.

    The overviews are built on an uncompressed tiled staging file beside it, then copied with the pixels into
    the COG (``OVERVIEWS=FORCE_USE_EXISTING``): the same file, byte for byte, as the COG driver's own overviews,
    which it builds on a compressed copy and so compresses and decompresses every block once more (at 61 Mpx,
    40 % less CPU). Where a level would not halve the size exactly the driver builds them itself: it rounds an
    overview's size down, GDAL's overview builder up.
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
    profile = dict(width=grid.width, height=grid.height, count=array.shape[0], dtype=dtype.name, crs=grid.rio_crs,
                   transform=grid.transform, nodata=nodata)
    options = dict(compress="DEFLATE", blocksize=COG_BLOCK_PX, num_threads="all_cpus")  # blocks compressed in parallel
    if np.issubdtype(dtype, np.integer):
        options["predictor"] = 2
    resampling = Resampling.nearest if categorical else Resampling.average
    factors = cog_overview_factors(grid.shape)
    with atomic_path(path) as tmp:
        if factors and (grid.height % factors[-1] or grid.width % factors[-1]):
            with rasterio.open(tmp, "w", driver="COG", overview_resampling=resampling.name, **profile,
                               **options) as dst:
                dst.write(array.astype(dtype, copy=False))
        else:
            _write_cog_staged(tmp, array.astype(dtype, copy=False), profile, options, factors, resampling)
    return path


def _write_cog_staged(path: Path, array: np.ndarray, profile: dict, options: dict, factors: list[int],
                      resampling: Resampling) -> None:
    """:func:`write_cog`'s pixels and overviews in an uncompressed staging file beside ``path``, then the COG."""
    staging = path.with_name(f"{path.stem}.staging.tif")
    try:
        with rasterio.open(staging, "w", driver="GTiff", tiled=True, blockxsize=COG_BLOCK_PX,
                           blockysize=COG_BLOCK_PX, BIGTIFF="IF_SAFER", **profile) as src:
            src.write(array)
            src.build_overviews(factors, resampling)
        with rasterio.open(staging) as src:
            rasterio.shutil.copy(src, path, driver="COG", overviews="FORCE_USE_EXISTING", **options)
    finally:
        staging.unlink(missing_ok=True)


def cog_overview_factors(shape: tuple[int, int], block_px: int = COG_BLOCK_PX) -> list[int]:
    """The overview factors GDAL's COG driver builds by default: 2, 4, … halving the size (rounded down) until
    it fits in a block."""
    rows, cols = shape
    factors = []
    while rows > block_px or cols > block_px:
        rows, cols = rows // 2, cols // 2
        factors.append(2 ** (len(factors) + 1))
    return factors


class RasterWriter:
    """A COG written window by window: blocks go into a tiled, compressed GeoTIFF beside ``path`` (BigTIFF when
    needed), which becomes a COG (overviews built from it) at ``path`` when the block closes, atomically as
    :func:`write_cog`; on an exception nothing is left. Memory: one window, and GDAL's cache while it copies."""

    def __init__(self, path: Path | str, grid: Grid, dtype: str, nodata, *, categorical: bool = True):
        self.path, self.grid, self.dtype, self.nodata, self.categorical = Path(path), grid, dtype, nodata, categorical

    def __enter__(self) -> "RasterWriter":
        self._staging = self.path.with_name(f".{self.path.name}.tiles.tif")
        self._dst = rasterio.open(self._staging, "w", driver="GTiff", width=self.grid.width, height=self.grid.height,
                                  count=1, dtype=self.dtype, crs=self.grid.rio_crs, transform=self.grid.transform,
                                  nodata=self.nodata, tiled=True, blockxsize=512, blockysize=512, compress="DEFLATE",
                                  BIGTIFF="IF_SAFER")
        return self

    def write(self, window: tuple[slice, slice], block: np.ndarray) -> None:
        """One block at its (rows, columns)."""
        rows, cols = window
        self._dst.write(np.asarray(block, dtype=self.dtype), 1,
                        window=Window(cols.start, rows.start, cols.stop - cols.start, rows.stop - rows.start))

    def __exit__(self, exc_type, exc, tb) -> None:
        self._dst.close()
        try:
            if exc_type is None:
                with atomic_path(self.path) as tmp:
                    rasterio.shutil.copy(self._staging, tmp, driver="COG", compress="DEFLATE", blocksize=512,
                                         overview_resampling="nearest" if self.categorical else "average",
                                         num_threads="all_cpus", BIGTIFF="IF_SAFER")
        finally:
            self._staging.unlink(missing_ok=True)
