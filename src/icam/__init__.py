"""icam: information system for REDD+ avoided-deforestation projects."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("icam")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"
