"""The five forest source kinds of ``icam.toml`` read onto the project grid, each into a
:class:`~icam.forest.change.ForestChange`, with the checks of what each kind's files hold (codes,
ranges, bands, swapped forest and nodata codes). Formats and conventions: docs/data.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import ndimage

from icam.core.errors import InputError
from icam.core.indices import bincount
from icam.forest.change import ForestChange
from icam.landscape import checks
from icam.landscape.grid import Grid
from icam.landscape.raster import GridLayer, read_layer
from icam.landscape.sources import (
    FccSource,
    ForestMapsSource,
    ForestSource,
    HansenSource,
    LandcoverStackSource,
    LossYearSource,
)

Progress = Callable[[str], None]
_MAX_LISTED = 10


def _noop(_: str) -> None:
    pass


def load_forest(source: ForestSource, grid: Grid) -> ForestChange:
    """A forest source (any of the five kinds) read onto ``grid``."""
    forest, _ = read_forest(source, grid)
    return forest


def read_forest(source: ForestSource, grid: Grid, progress: Progress = _noop,
                focus: checks.Focus | None = None) -> tuple[ForestChange, np.ndarray]:
    """(ForestChange, covered): covered = cells inside the footprint of every input raster.

    ``focus``: where the maps' codes are checked (the project area; default the whole grid): a map whose
    forest code is absent there while its nodata covers most of it has the codes swapped.
    """
    loaders = {
        "hansen": _load_hansen,
        "forest_maps": _load_forest_maps,
        "fcc": _load_fcc,
        "landcover_stack": _load_landcover_stack,
        "loss_year": _load_loss_year,
    }
    focus = focus or checks.Focus("grid", np.ones(grid.shape, dtype=bool))
    return loaders[source.kind](source, grid, progress, focus)


def _read(paths, grid: Grid, source, key: str, progress: Progress) -> GridLayer:
    """One layer of ``source`` on the grid: the band ``source.band`` (a multi-band file needs it), or every
    band of a land-cover stack."""
    what = f"forest.{key}"
    progress(f"reading {what}")
    if source.kind == "landcover_stack":
        band, band_key = None, None
    else:
        band, band_key = (source.band or 1), (None if source.band else "forest.band")
    return read_layer(paths, grid, what=what, allow_reproject=source.reproject, band=band, categorical=True,
                      band_key=band_key)


def _integer_values(layer: GridLayer, what: str) -> np.ndarray:
    """The layer's codes, refused where a cell with data (not nodata) holds a fraction, NaN or infinity."""
    if not np.issubdtype(layer.data.dtype, np.integer):
        values = layer.data[layer.valid]
        if not np.isfinite(values).all():
            raise InputError(f"{what}: {layer.files[0].name} holds NaN or infinite values outside its nodata",
                             "set its nodata tag to them (gdal_edit.py -a_nodata nan) or give an integer raster")
        if not (values == np.round(values)).all():
            raise InputError(f"{what}: {layer.files[0].name} holds fractional values; categories must be integers",
                             "give an integer raster of codes")
    return layer.data


def _unexpected(values: np.ndarray, where: np.ndarray, allowed: list[int]) -> list[int]:
    """Sorted values found at ``where`` that are not in ``allowed``."""
    present = np.unique(values[where]) if where.any() else np.array([], dtype=values.dtype)
    return [v.item() for v in present if v.item() not in set(allowed)]


def _listed(values: list) -> str:
    shown = ", ".join(str(v) for v in values[:_MAX_LISTED])
    return shown + (f" and {len(values) - _MAX_LISTED} more" if len(values) > _MAX_LISTED else "")


def remove_small_patches(forest: np.ndarray, grid: Grid, min_area_ha: float) -> np.ndarray:
    """``forest`` without its 8-connected patches smaller than ``min_area_ha`` (true cell areas).

    One labelling pass (scipy.ndimage.label) and one weighted bincount: no loop over patches. The bincount reads
    the int32 labels as they are (numpy's copies them to int64 first: 0.49 GB at a jurisdiction's 61 Mpx).
    """
    if min_area_ha <= 0 or not forest.any():
        return forest
    labels, n = ndimage.label(forest, structure=np.ones((3, 3), dtype=bool))
    if grid.is_area_corrected:
        weights = np.broadcast_to(grid.cell_area_ha(), forest.shape)
        patch_area = bincount(labels.ravel(), weights=weights.ravel(), minlength=n + 1)
    else:
        patch_area = bincount(labels.ravel(), minlength=n + 1) * grid.nominal_cell_area_ha
    keep = patch_area >= min_area_ha * (1 - 1e-9)
    keep[0] = False
    return keep[labels]


def _load_hansen(source: HansenSource, grid: Grid, progress: Progress, focus: checks.Focus):
    """Hansen et al. (2013) Global Forest Change: forest = treecover2000 > canopy_cover_min_pct.

    The threshold is strict, as in Hansen et al. and Global Forest Watch ("> 30 %" canopy cover).
    """
    treecover = _read(source.treecover2000, grid, source, "treecover2000", progress)
    lossyear = _read(source.lossyear, grid, source, "lossyear", progress)
    valid = treecover.valid & lossyear.valid
    covered = treecover.covered & lossyear.covered
    if source.datamask:
        datamask = _read(source.datamask, grid, source, "datamask", progress)
        valid &= datamask.covered & (datamask.data == 1)
        covered &= datamask.covered
    ly = _check_hansen_values(treecover, lossyear, source)
    forest = (treecover.data > source.canopy_cover_min_pct) & valid
    forest = remove_small_patches(forest, grid, source.min_mapping_unit_ha)
    loss_period = np.where(forest, ly, 0).astype(np.uint8)
    epochs = tuple(range(source.year_offset, source.last_year + 1))
    files = len(treecover.files)
    description = (f"Hansen GFC ({files} tile{'s' if files > 1 else ''}), canopy cover > "
                   f"{source.canopy_cover_min_pct:g}%, MMU {source.min_mapping_unit_ha:g} ha")
    return ForestChange(epochs, forest, loss_period, valid, description), covered


def _check_hansen_values(treecover: GridLayer, lossyear: GridLayer, source: HansenSource) -> np.ndarray:
    """The lossyear values, after checking both layers hold what GFC does: canopy cover 0–100 %, loss years
    0–(last_year − year_offset)."""
    n_years = source.last_year - source.year_offset
    if n_years < 1:
        raise InputError(f"forest.last_year = {source.last_year} is not after forest.year_offset = "
                         f"{source.year_offset}", "set last_year to the last year of loss in the data (2024 for "
                         "GFC v1.12)")
    cover = treecover.data[treecover.valid]
    if cover.size and (cover.max() > 100 or cover.min() < 0):
        value = cover.max() if cover.max() > 100 else cover.min()
        raise InputError(f"forest.treecover2000: {treecover.files[0].name} holds {value:g}, not a canopy cover "
                         "in percent (0 to 100)", "give the GFC treecover2000 tiles (not lossyear or a mosaic "
                         "with another scale), or set their nodata tag (gdal_edit.py -a_nodata)")
    ly = _integer_values(lossyear, "forest.lossyear")
    checked = ly[lossyear.valid]
    low, top = (int(checked.min()), int(checked.max())) if checked.size else (0, 0)
    if low < 0:
        raise InputError(f"forest.lossyear: {lossyear.files[0].name} holds the negative value {low}",
                         "give the GFC lossyear tiles (0 = no loss, k = loss in year_offset + k), or set their "
                         "nodata tag (gdal_edit.py -a_nodata)")
    if top > n_years:
        raise InputError(f"forest.lossyear holds value {top} (year {source.year_offset + top}) but "
                         f"forest.last_year is {source.last_year}", "set forest.last_year to the data's last year "
                         "of loss")
    return ly


def _loss_from_maps(forest_maps, valid: np.ndarray, shape, years: Sequence[int],
                    persistence_years: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """forest_first and loss_period from an iterable of forest masks (one per year of ``years``, in order).

    loss_period = the first period k at whose end a forest cell is non-forest and stays non-forest in every
    map of years[k] .. years[k] + persistence_years − 1: a cell back to forest within that window flickered
    and is not lost then (the temporal filter of MapBiomas' post-classification, ATBD "spatial and temporal
    filters"). A run still open at the last map counts as loss, unconfirmed. Regrowth after a loss is ignored.
    """
    forest_first = None
    loss_period = np.zeros(shape, dtype=np.uint8)
    pending = np.zeros(shape, dtype=np.uint8)  # the period a non-forest run began in, not yet confirmed
    year_of = np.asarray(years, dtype=np.int32)
    for k, forest in enumerate(forest_maps):
        if forest_first is None:
            forest_first = forest & valid
            continue
        # a run whose window closed before this map's year was non-forest in every map within it
        _confirm(pending, loss_period, year_of[pending] + persistence_years - 1 < year_of[k])
        still = forest_first & (loss_period == 0)
        pending[still & forest] = 0
        pending[still & ~forest & (pending == 0)] = k
        _confirm(pending, loss_period, year_of[pending] + persistence_years - 1 <= year_of[k])
    unconfirmed = pending > 0
    loss_period[unconfirmed] = pending[unconfirmed]
    return forest_first, loss_period


def _confirm(pending: np.ndarray, loss_period: np.ndarray, window_done: np.ndarray) -> None:
    """Record the pending runs whose window is done as loss (in place)."""
    confirmed = (pending > 0) & window_done
    loss_period[confirmed] = pending[confirmed]
    pending[confirmed] = 0


def _persistence(source) -> str:
    n = source.persistence_years
    return f"; loss only where non-forest {n} years running" if n > 1 else ""


def _check_map_coding(layer: GridLayer, data: np.ndarray, what: str, focus: checks.Focus, forest: np.ndarray,
                      forest_label: str, nodata_value: int | None, keys: str) -> np.ndarray:
    """The map's valid cells (not its nodata tag, not ``nodata_value``), after checking that its forest and
    nodata codes are not swapped within ``focus``."""
    good = layer.valid if nodata_value is None else layer.valid & (data != nodata_value)
    checks.check_coding(what, layer.files[0], focus, layer.covered, forest & good, ~good, forest_label,
                        checks.nodata_label("nodata_value", nodata_value, layer.nodata), keys)
    return good


def _load_forest_maps(source: ForestMapsSource, grid: Grid, progress: Progress, focus: checks.Focus):
    years = sorted(source.maps)
    layers_valid = np.ones(grid.shape, dtype=bool)
    covered = np.ones(grid.shape, dtype=bool)
    allowed = [source.forest_value, source.nonforest_value, source.nodata_value]

    def masks():
        nonlocal layers_valid, covered
        for year in years:
            what = f"forest.maps.{year}"
            layer = _read(source.maps[year], grid, source, f"maps.{year}", progress)
            data = _integer_values(layer, what)
            forest = data == source.forest_value
            good = _check_map_coding(layer, data, what, focus, forest, f"forest_value = {source.forest_value}",
                                     source.nodata_value, "forest_value and nodata_value")
            bad = _unexpected(data, good, allowed)
            if bad:
                raise InputError(f"{what}: {layer.files[0].name} holds value(s) {_listed(bad)} that are none of "
                                 f"forest_value = {source.forest_value}, nonforest_value = "
                                 f"{source.nonforest_value}, nodata_value = {source.nodata_value}",
                                 "set those keys under [forest] or reclassify the map")
            layers_valid &= good
            covered &= layer.covered
            yield forest

    # each map's validity is known once it is read: apply it after the last one
    forest_first, loss_period = _loss_from_maps(masks(), np.ones(grid.shape, dtype=bool), grid.shape, years,
                                                source.persistence_years)
    forest_first &= layers_valid
    loss_period[~forest_first] = 0
    return ForestChange(tuple(years), forest_first, loss_period, layers_valid,
                        f"yearly forest maps {years[0]}–{years[-1]} ({len(years)} maps{_persistence(source)})"), covered


def _lookup(codes_to_value: dict[int, int], data: np.ndarray, default: int = 0) -> np.ndarray:
    """Map integer codes through a table (vectorised); codes absent from the table give ``default``."""
    if data.dtype.kind in "ub" and data.dtype.itemsize <= 2:
        table = np.full(np.iinfo(data.dtype).max + 1, default, dtype=np.uint8)
        for code, value in codes_to_value.items():
            if 0 <= code < table.size:
                table[code] = value
        return table[data]
    out = np.full(data.shape, default, dtype=np.uint8)
    for code, value in codes_to_value.items():
        out[data == code] = value
    return out


def _load_fcc(source: FccSource, grid: Grid, progress: Progress, focus: checks.Focus):
    """Forest-cover-change codes: loss in period p, forest at the end, non-forest throughout.

    forestatrisk convention (no nonforest_codes): 0 / nodata is non-forest (or no data), so every
    covered cell is valid. With nonforest_codes set, nodata cells are invalid.
    """
    n_periods = len(source.years) - 1
    years = list(source.years)
    if years != sorted(set(years)):
        raise InputError(f"forest.years = {years} must be ascending distinct years",
                         "list the period boundaries in order")
    loss_codes = source.loss_codes if source.loss_codes is not None else [[p] for p in range(1, n_periods + 1)]
    forest_codes = source.forest_codes if source.forest_codes is not None else [n_periods + 1]
    nonforest_codes = list(source.nonforest_codes)
    layer = _read(source.file, grid, source, "file", progress)
    data = _integer_values(layer, "forest.file")
    forest_at_start = [c for codes in loss_codes for c in codes] + list(forest_codes)
    if layer.nodata is not None and layer.nodata in forest_at_start:
        raise InputError(f"forest.file: {layer.files[0].name} has nodata tag {layer.nodata:g}, which is one of its "
                         f"forest codes (loss_codes = {loss_codes}, forest_codes = {forest_codes})",
                         "reset the tag (gdal_edit.py -a_nodata 0 FILE) or fix the codes under [forest]")
    forestatrisk = not nonforest_codes
    known = forest_at_start + nonforest_codes + ([0] if forestatrisk else [])
    bad = _unexpected(data, layer.valid, known)
    if bad:
        raise InputError(f"forest.file: {layer.files[0].name} holds code(s) {_listed(bad)} that are none of "
                         f"loss_codes = {loss_codes}, forest_codes = {forest_codes}, nonforest_codes = "
                         f"{nonforest_codes}", "list every code of the raster under [forest] (or set it to nodata)")
    table: dict[int, int] = {}
    for p, codes in enumerate(loss_codes, start=1):
        for c in codes:
            table[c] = p
    for c in forest_codes:
        table[c] = 255  # forest throughout
    coded = _lookup(table, data)
    valid = layer.covered.copy() if forestatrisk else layer.valid
    forest_first = (coded > 0) & valid
    loss_period = np.where(forest_first & (coded != 255), coded, 0).astype(np.uint8)
    return ForestChange(tuple(years), forest_first, loss_period, valid,
                        f"forest-cover change {years[0]}–{years[-1]} ({n_periods} periods)"), layer.covered


def _load_landcover_stack(source: LandcoverStackSource, grid: Grid, progress: Progress, focus: checks.Focus):
    layer = _read(source.file, grid, source, "file", progress)
    data = layer.data
    if data.shape[0] != len(source.years):
        raise InputError(f"forest.file: {layer.files[0].name} has {data.shape[0]} bands but forest.years lists "
                         f"{len(source.years)} years", "give one band per year, in the order of forest.years")
    order = np.argsort(source.years)
    years = [source.years[i] for i in order]
    if len(set(years)) != len(years):
        raise InputError(f"forest.years = {list(source.years)} repeats a year", "give each band's year once")
    nodata = source.nodata_value if source.nodata_value is not None else layer.nodata
    is_nodata = (data == nodata) if nodata is not None else np.zeros(data.shape, dtype=bool)
    valid = layer.covered & ~is_nodata.any(axis=0)
    classes = np.asarray(source.forest_classes)
    first = int(order[0])
    checks.check_coding(f"forest.file (band {first + 1}, {years[0]})", layer.files[0], focus, layer.covered,
                        np.isin(data[first], classes) & ~is_nodata[first], is_nodata[first],
                        f"forest_classes = {list(source.forest_classes)}",
                        checks.nodata_label("nodata_value", nodata, None), "forest_classes and nodata_value")
    forest_first, loss_period = _loss_from_maps((np.isin(data[i], classes) for i in order), valid, grid.shape,
                                                years, source.persistence_years)
    described = f"land-cover stack {years[0]}–{years[-1]} ({len(years)} bands{_persistence(source)})"
    return ForestChange(tuple(years), forest_first, loss_period, valid, described), layer.covered


def _load_loss_year(source: LossYearSource, grid: Grid, progress: Progress, focus: checks.Focus):
    """A forest map at start_year and a year-of-loss raster (value + year_offset = calendar year, 0 = no loss).

    Loss dated at or before start_year is already in the forest map and ignored.
    """
    if source.last_year <= source.start_year:
        raise InputError(f"forest.last_year = {source.last_year} is not after forest.start_year = "
                         f"{source.start_year}", "set last_year to the last year of loss in the data")
    start = _read(source.forest_start, grid, source, "forest_start", progress)
    start_data = _integer_values(start, "forest.forest_start")
    start_good = _check_map_coding(start, start_data, "forest.forest_start", focus,
                                   start_data == source.forest_value, f"forest_value = {source.forest_value}",
                                   source.nodata_value, "forest_value and nodata_value")
    loss = _read(source.loss_year, grid, source, "loss_year", progress)
    loss_data = np.where(loss.valid, _integer_values(loss, "forest.loss_year"), 0).astype(np.int64)
    valid = start_good & loss.valid
    forest_first = (start_data == source.forest_value) & valid
    lost = loss.valid & (loss_data != 0)
    _check_loss_years(loss, loss_data, lost, source)
    year = loss_data + source.year_offset
    period = np.clip(year - source.start_year, 0, 255)
    loss_period = np.where(forest_first & lost & (year > source.start_year), period, 0).astype(np.uint8)
    epochs = tuple(range(source.start_year, source.last_year + 1))
    return ForestChange(epochs, forest_first, loss_period, valid,
                        f"forest map {source.start_year} with year of loss to {source.last_year}"), \
        start.covered & loss.covered


def _check_loss_years(loss: GridLayer, values: np.ndarray, lost: np.ndarray, source: LossYearSource) -> None:
    """Loss values are 0 (no loss) or a positive year code no later than last_year."""
    if not lost.any():
        return
    low, top = int(values[lost].min()), int(values[lost].max())
    if low < 0:
        raise InputError(f"forest.loss_year: {loss.files[0].name} holds the negative value {low}",
                         "give 0 for no loss and value + year_offset = year of loss, or set the file's nodata tag "
                         "(gdal_edit.py -a_nodata)")
    if top + source.year_offset > source.last_year:
        raise InputError(f"forest.loss_year holds value {top} (year {top + source.year_offset}) but "
                         f"forest.last_year is {source.last_year}",
                         "set forest.last_year (or forest.year_offset) to match the data")
