"""The ``icam`` command line, one module per command group (as rasterio's ``rio``)."""

from icam.core.process import keep_freed_memory, one_blas_thread, small_gdal_cache

one_blas_thread()  # before the commands import numpy: OpenBLAS reads it as it loads
small_gdal_cache()  # each raster is read once into icam's arrays: GDAL's default cache mostly doubled it
keep_freed_memory()  # large arrays reuse the memory freed before them (a run gives it back between stages)

from icam.cli.app import app  # noqa: E402

__all__ = ["app"]
