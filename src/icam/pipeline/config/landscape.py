"""``[project]``, ``[grid]``, ``[boundaries]`` and ``[forest]``: where the project is and the maps it reads."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import Field, field_validator, model_validator
from pyproj import CRS
from pyproj.exceptions import CRSError

from icam.pipeline.config.base import Year, _no_placeholder, _Section


class ProjectSection(_Section):
    """Who the project is."""

    name: str = Field(min_length=1, description="Project name, as in the project description.")
    vcs_id: int | None = Field(None, ge=1, description="Verra VCS project ID (944 for Alto Mayo); empty (\"\") if "
                               "not registered.")
    description: str = Field("", description="One line on the project, shown in the report.")

    _name_set = field_validator("name")(_no_placeholder)

    @field_validator("vcs_id", mode="before")
    @classmethod
    def _empty_is_none(cls, value):
        return None if isinstance(value, str) and not value.strip() else value


class GridSection(_Section):
    """The one grid every raster is read onto."""

    crs: str = Field(description="CRS of the grid in metres: an EPSG code ('EPSG:32718'), PROJ string or WKT. "
                     "Geographic CRSs are refused: pick the UTM zone or an equal-area CRS.")
    resolution_m: float = Field(gt=0, le=10_000, description="Cell size in metres (30 for Landsat-based maps).")
    bounds: tuple[float, float, float, float] | None = Field(
        None, description="Grid extent [xmin, ymin, xmax, ymax] in the grid CRS, metres. Default: the reference "
        "region's bounds, else the project area's, else the first forest raster's.")

    @field_validator("crs")
    @classmethod
    def _crs_is_projected(cls, value: str) -> str:
        _no_placeholder(value)
        try:
            crs = CRS.from_user_input(value)
        except CRSError as exc:
            reason = " ".join(str(exc).replace(";", ",").split())[:100]
            raise ValueError(f"PROJ does not know this CRS ({reason}); give an EPSG code such as 'EPSG:32718', a "
                             "PROJ string or WKT") from None
        if crs.is_geographic:
            raise ValueError("geographic (degrees); use a projected CRS in metres, e.g. the project's UTM zone "
                             "(EPSG:327xx south, EPSG:326xx north): icam reprojects the inputs onto it")
        unit = crs.axis_info[0].unit_name if crs.axis_info else "metre"
        if unit not in ("metre", "meter", "m"):
            raise ValueError(f"its axis unit is {unit!r}; use a projected CRS in metres (icam grids are in metres)")
        return value

    @field_validator("bounds")
    @classmethod
    def _bounds_ordered(cls, value):
        if value is not None and not all(math.isfinite(v) for v in value):
            raise ValueError("bounds must be finite numbers (metres in the grid CRS)")
        if value is not None and not (value[0] < value[2] and value[1] < value[3]):
            raise ValueError("bounds must be [xmin, ymin, xmax, ymax] with xmin < xmax and ymin < ymax")
        return value


class BoundariesSection(_Section):
    """Polygons (GeoPackage, Shapefile or GeoJSON, any CRS) rasterised into zones on the grid."""

    project_area: Path | None = Field(None, description="Project area polygon(s).")
    leakage_belt: Path | None = Field(None, description="Leakage belt polygon(s), outside the project area.")
    reference_region: Path | None = Field(None, description="Reference region or jurisdiction polygon(s).")
    admin_units: Path | None = Field(None, description="Administrative units (one polygon per unit).")
    admin_unit_field: str = Field("name", min_length=1,
                                  description="Attribute of admin_units holding each unit's name.")


class _Source(_Section):
    reproject: bool = Field(False, description="Allow reprojection onto the grid (nearest neighbour for categories). "
                            "Off by default: a raster on another grid is refused, never resampled silently.")


class _SingleBandSource(_Source):
    band: int | None = Field(None, ge=1, le=10_000, description="Band read from each file of this section (1 = "
                             "the first). Needed when a file has several bands: icam never picks one silently.")


Paths = Annotated[list[Path], Field(min_length=1)]
PersistenceYears = Annotated[int, Field(
    ge=1, le=10, description="A forest cell counts as lost in a map's year only if it stays non-forest in every "
    "map of the next N years (that year included; MapBiomas-style temporal filter): a one-year flicker of the "
    "class is not loss. 1 = every change counts. Loss in the last N - 1 years counts as seen, unconfirmed.")]


class HansenSource(_SingleBandSource):
    """Hansen Global Forest Change tiles (treecover2000, lossyear, datamask)."""

    kind: Literal["hansen"]
    treecover2000: Paths = Field(description="treecover2000 tiles (files or glob patterns), percent canopy cover "
                                 "in 2000.")
    lossyear: Paths = Field(description="lossyear tiles: 0 = no loss, k = loss in year_offset + k.")
    datamask: list[Path] = Field(default_factory=list, description="datamask tiles: 0 = no data, 1 = land, "
                                 "2 = water. Optional.")
    canopy_cover_min_pct: float = Field(30, ge=0, le=100, description="Forest = canopy cover above this percent "
                                        "in 2000.")
    min_mapping_unit_ha: float = Field(0.5, ge=0, le=1000, description="Forest patches smaller than this (ha, "
                                       "8-connected) are non-forest.")
    year_offset: Year = Field(2000, description="Year of lossyear value 0; value k means loss in year_offset + k.")
    last_year: Year = Field(description="Last year of loss in the data (2024 for GFC v1.12).")


class ForestMapsSource(_SingleBandSource):
    """Yearly forest/non-forest maps (JRC TMF, forestatrisk): one file per year."""

    kind: Literal["forest_maps"]
    maps: dict[Year, Path] = Field(min_length=2, description="Year -> forest map file.")
    forest_value: int = Field(1, description="Cell value for forest.")
    nonforest_value: int = Field(0, description="Cell value for non-forest.")
    nodata_value: int = Field(255, description="Cell value for no data.")
    persistence_years: PersistenceYears = 1


class FccSource(_SingleBandSource):
    """Forest-cover-change raster: codes for loss in each period and forest at the end (forestatrisk's fcc123,
    fcc12345)."""

    kind: Literal["fcc"]
    file: Path = Field(description="The change raster.")
    years: list[Year] = Field(min_length=2, description="Period boundaries, e.g. [2000, 2010, 2020] for fcc123.")
    loss_codes: list[list[int]] | None = Field(
        None, description="Codes of loss in each period; default [[1], [2], ...] (forestatrisk convention).")
    forest_codes: list[int] | None = Field(None, description="Codes of forest at the last year; default [number "
                                           "of periods + 1].")
    nonforest_codes: list[int] = Field(default_factory=list, description="Codes of non-forest throughout "
                                       "(forestatrisk has none: non-forest is nodata).")

    @model_validator(mode="after")
    def _codes_match_periods(self):
        n_periods = len(self.years) - 1
        if self.loss_codes is not None and len(self.loss_codes) != n_periods:
            raise ValueError(f"loss_codes has {len(self.loss_codes)} lists but years define {n_periods} periods")
        return self


class LandcoverStackSource(_Source):
    """Multi-band yearly land-cover stack (MapBiomas style): band i is the map of years[i]."""

    kind: Literal["landcover_stack"]
    file: Path = Field(description="The multi-band raster.")
    years: list[Year] = Field(min_length=2, description="Year of each band, in band order.")
    forest_classes: list[int] = Field(min_length=1, description="Land-cover codes that count as forest.")
    nodata_value: int | None = Field(None, description="Code for no data (default: the file's nodata).")
    persistence_years: PersistenceYears = 1


class LossYearSource(_SingleBandSource):
    """Year-of-loss raster (Hansen lossyear, Terra-i) with a forest map at the start year."""

    kind: Literal["loss_year"]
    forest_start: Path = Field(description="Forest map at start_year: forest_value = forest, nodata_value = no "
                               "data, other = non-forest.")
    loss_year: Path = Field(description="Year-of-loss raster: 0 = no loss, k = loss in year_offset + k.")
    start_year: Year = Field(description="Year of the forest_start map.")
    year_offset: int = Field(0, ge=0, le=2100, description="Added to the raster's values to give the calendar year.")
    last_year: Year = Field(description="Last year of loss in the data.")
    forest_value: int = Field(1, description="forest_start value for forest.")
    nodata_value: int = Field(255, description="forest_start value for no data.")


ForestSource = Annotated[
    Union[HansenSource, ForestMapsSource, FccSource, LandcoverStackSource, LossYearSource],
    Field(discriminator="kind"),
]


