"""The ``icam`` command line, one module per command group (as rasterio's ``rio``)."""

from icam.cli.app import app

__all__ = ["app"]
