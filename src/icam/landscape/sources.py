"""What a project's landscape is read from: the grid, the boundary files and the forest source.

Plain frozen parameters: the pipeline's landscape adapter fills them from
``icam.toml``; a script may build them directly. Fields and meanings are those of the ``[grid]``,
``[boundaries]`` and ``[forest]`` sections (docs/data.md). ``band`` (every kind but the land-cover
stack) is the band read from each of the source's files; None reads band 1 and refuses a file with
several bands.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Union


@dataclass(frozen=True)
class GridSpec:
    """The project grid: a CRS in metres, a cell size (m), and optionally its extent."""

    crs: str
    resolution_m: float
    bounds: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class BoundaryFiles:
    """Polygon files of the zones (any may be absent) and the attribute naming the admin units."""

    project_area: Path | None = None
    leakage_belt: Path | None = None
    reference_region: Path | None = None
    admin_units: Path | None = None
    admin_unit_field: str = "name"


@dataclass(frozen=True)
class HansenSource:
    """Hansen Global Forest Change tiles: canopy cover 2000, year of loss, optional data mask."""

    kind: ClassVar[str] = "hansen"
    treecover2000: Sequence[Path]
    lossyear: Sequence[Path]
    last_year: int
    datamask: Sequence[Path] = ()
    canopy_cover_min_pct: float = 30
    min_mapping_unit_ha: float = 0.5
    year_offset: int = 2000
    reproject: bool = False
    band: int | None = None


@dataclass(frozen=True)
class ForestMapsSource:
    """Yearly forest/non-forest maps, one file per year."""

    kind: ClassVar[str] = "forest_maps"
    maps: Mapping[int, Path]
    forest_value: int = 1
    nonforest_value: int = 0
    nodata_value: int = 255
    reproject: bool = False
    band: int | None = None
    persistence_years: int = 1


@dataclass(frozen=True)
class FccSource:
    """A forest-cover-change raster (forestatrisk's fcc123): loss codes per period, forest at the end."""

    kind: ClassVar[str] = "fcc"
    file: Path
    years: Sequence[int]
    loss_codes: Sequence[Sequence[int]] | None = None
    forest_codes: Sequence[int] | None = None
    nonforest_codes: Sequence[int] = field(default_factory=tuple)
    reproject: bool = False
    band: int | None = None


@dataclass(frozen=True)
class LandcoverStackSource:
    """A multi-band yearly land-cover stack (MapBiomas style): band i is the map of years[i]."""

    kind: ClassVar[str] = "landcover_stack"
    file: Path
    years: Sequence[int]
    forest_classes: Sequence[int]
    nodata_value: int | None = None
    reproject: bool = False
    persistence_years: int = 1


@dataclass(frozen=True)
class LossYearSource:
    """A year-of-loss raster with a forest map at the start year."""

    kind: ClassVar[str] = "loss_year"
    forest_start: Path
    loss_year: Path
    start_year: int
    last_year: int
    year_offset: int = 0
    forest_value: int = 1
    nodata_value: int = 255
    reproject: bool = False
    band: int | None = None


ForestSource = Union[HansenSource, ForestMapsSource, FccSource, LandcoverStackSource, LossYearSource]
SOURCE_KINDS: dict[str, type] = {cls.kind: cls for cls in
                                 (HansenSource, ForestMapsSource, FccSource, LandcoverStackSource, LossYearSource)}
