"""The simulated map's errors, and the demo's labelled reference samples.

A real loss map differs from the truth; a real reference sample is labelled by interpreters who
see (almost) the truth. The simulator therefore writes the Hansen-format lossyear tiles as the
true loss seen through a map-error model (:func:`map_with_errors`), keeps the truth in
``truth/true_lossyear.tif``, and labels a stratified sample of each period's map from the truth
through an interpreter-error model (:func:`write_reference_samples`), recording each sample's true class,
label and error in ``truth/reference_samples/<period>.csv``. Parameters are in
:data:`MAP_ERRORS` and :data:`INTERPRETER_ERRORS`; docs/methods.md explains them.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

from icam.core.atomic import atomic_path
from icam.core.indices import bincount
from icam.forest.activity import FOREST_LOSS, NON_FOREST, STABLE_FOREST, activity_map, mapped_areas, strata_by_zone
from icam.forest.change import ForestChange
from icam.forest.sampling import sample_table, stratified_design
from icam.pipeline.config import load_config
from icam.pipeline.stages.landscape import load_landscape
from icam.simulate.patches import patches_by_year

YEAR_OFFSET, LAST_YEAR = 2000, 2024

MAP_ERRORS = {
    "omission_share_small_patches": 0.15,  # loss patches < small_patch_ha missed by the map
    "omission_share_large_patches": 0.05,
    "small_patch_ha": 1.0,
    "late_share": 0.10,  # mapped loss patches dated one year late (detected in the next year's imagery)
    "commission_share": 0.04,  # false loss, as a share of the true loss area, in pairs of cells
    "commission_within_m": 300,  # ... in forest within this distance of the 2000 non-forest edge
}
INTERPRETER_ERRORS = {
    # symmetric by default: every true class is mislabelled at the same rate, and each wrong label is one of the
    # two other classes at random, so P(label j | true i) = swap_share / 2 for every i != j
    "swap_share": 0.002,
    # boundary-year confusions, the same share at both ends of a period: loss in the period's last year labelled
    # stable forest (too recent to see) and loss in the year the period starts labelled loss (dated into it)
    "boundary_year_share": 0.20,
}
TRUTH_SAMPLES_DIR = "truth/reference_samples"
SAMPLE_SIZE = {"small": (2000, 100), "project": (10000, 600), "jurisdiction": (1500, 100)}  # (n, minimum per class)
ASSESSMENT_EPOCHS = [(2000, 2008), (2008, 2012), (2012, 2014), (2014, 2016), (2016, 2018), (2018, 2020),
                     (2020, 2022), (2022, 2024)]
SAMPLES_DIR = "inputs/reference_samples"


def _slug(start: int, end: int) -> str:
    return f"hrp_{start}_{end}" if start == ASSESSMENT_EPOCHS[0][0] else f"monitoring_{start}_{end}"


def assessments_config() -> list[dict]:
    """The ``[activity_data] assessments`` of the simulated project's icam.toml."""
    out = []
    for start, end in ASSESSMENT_EPOCHS:
        label = "historical reference period" if start == ASSESSMENT_EPOCHS[0][0] else "monitoring"
        out.append({"name": f"{label} {start}-{end}", "start_year": start, "end_year": end,
                    "samples": f"{SAMPLES_DIR}/{_slug(start, end)}.csv"})
    return out


def map_with_errors(true_loss: np.ndarray, forest_2000: np.ndarray, resolution_m: float,
                    rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """The lossyear map (Hansen encoding) made from the true loss with omission, late dating and commission.

    Patches are 8-connected groups of cells lost in the same year: a map misses or mis-dates a clearing, not a
    front of clearings over the years (labelled across all years, connected fronts merged into patches of
    thousands of hectares, and one missed patch took 15 % of the landscape's loss out of the map). Returns
    the map and the realised error counts in cells.
    """
    cell_ha = resolution_m**2 / 1e4
    lost = true_loss > 0
    labels, n = patches_by_year(true_loss)
    patch_ha = bincount(labels, minlength=n + 1) * cell_ha  # numpy's copied the int32 labels to int64 (0.49 GB)
    p_omit = np.where(patch_ha < MAP_ERRORS["small_patch_ha"], MAP_ERRORS["omission_share_small_patches"],
                      MAP_ERRORS["omission_share_large_patches"])
    omitted = rng.random(n + 1) < p_omit
    late = (rng.random(n + 1) < MAP_ERRORS["late_share"]) & ~omitted
    omitted[0] = late[0] = False
    mapped = true_loss.copy()
    mapped[omitted[labels]] = 0
    shift = late[labels] & (mapped > 0) & (mapped < LAST_YEAR - YEAR_OFFSET)
    mapped[shift] += 1

    candidate = forest_2000 & ~lost & _near_non_forest(forest_2000, MAP_ERRORS["commission_within_m"] / resolution_m)
    candidates = np.flatnonzero(candidate)
    n_seeds = min(candidates.size, int(round(MAP_ERRORS["commission_share"] * lost.sum() / 2)))
    seeds = rng.choice(candidates, size=n_seeds, replace=False) if n_seeds else np.array([], dtype=np.int64)
    years = rng.integers(1, LAST_YEAR - YEAR_OFFSET + 1, size=seeds.size).astype(np.uint8)
    flat = mapped.ravel()
    flat[seeds] = years
    right = seeds + 1  # the cell to the east, where it is also untouched forest in the same row
    in_row = right % true_loss.shape[1] != 0  # (the raster's last cell has no right neighbour: 0 here)
    ok = in_row & candidate.ravel()[np.where(in_row, right, 0)]
    flat[right[ok]] = years[ok]
    stats = {"true_loss_px": int(lost.sum()), "omitted_px": int(omitted[labels].sum()),
             "late_px": int(shift.sum()), "commission_px": int(n_seeds + ok.sum())}
    return mapped, stats


def _near_non_forest(forest: np.ndarray, within_px: float) -> np.ndarray:
    """Cells whose chessboard distance to a non-forest cell is at most ``within_px`` (non-forest cells
    included): SciPy's ``distance_transform_cdt(forest, "chessboard") <= within_px``, a non-forest cell in the
    square of that half-width, by two running maxima instead of the transform (everywhere where the raster
    has no non-forest cell: the transform's −1)."""
    if forest.all():
        return np.ones(forest.shape, bool)
    half = int(math.floor(within_px))
    return ndimage.maximum_filter(~forest, size=2 * half + 1, mode="constant", cval=False)


def _true_forest_change(mapped: ForestChange, true_loss: np.ndarray) -> ForestChange:
    """The truth on the map's grid: the map's forest in 2000 (which has no error) with the true loss years."""
    loss_period = np.where(mapped.forest_first, true_loss, 0).astype(np.uint8)
    return ForestChange(mapped.epochs, mapped.forest_first, loss_period, mapped.valid, "truth")


def _labels(true_classes: np.ndarray, true_year: np.ndarray, start: int, end: int,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Interpreters' labels: the true class, with boundary-year confusions and random swaps (INTERPRETER_ERRORS).

    Returns the labels and each one's error kind ("" where the label is right, "too_recent", "dated_in", "swap").
    """
    labels = true_classes.copy()
    kind = np.full(labels.size, "", dtype=object)
    share = INTERPRETER_ERRORS["boundary_year_share"]
    too_recent = (true_classes == FOREST_LOSS) & (true_year == end) & (rng.random(labels.size) < share)
    labels[too_recent] = STABLE_FOREST
    kind[too_recent] = "too_recent"
    dated_in = (true_classes == NON_FOREST) & (true_year == start) & (rng.random(labels.size) < share)
    labels[dated_in] = FOREST_LOSS
    kind[dated_in] = "dated_in"
    swap = rng.random(labels.size) < INTERPRETER_ERRORS["swap_share"]
    others = np.array([[2, 3], [1, 3], [1, 2]])  # the other classes of 1, 2, 3
    labels[swap] = others[labels[swap] - 1, rng.integers(0, 2, size=int(swap.sum()))]
    kind[swap] = "swap"
    kind[labels == true_classes] = ""  # a swap back to the true class is no error
    return labels, kind


def write_reference_samples(out_dir: Path, true_loss: np.ndarray, scale: str, seed: int) -> dict:
    """Design, label and write a stratified sample for each assessment period; return the true areas (ha).

    The project is read back as ``icam run`` reads it, so each sample is designed on the very map the
    pipeline will stratify.
    """

    landscape = load_landscape(load_config(out_dir))
    zone = landscape.zones.reference_region
    truth = _true_forest_change(landscape.forest, true_loss)
    n_total, minimum = SAMPLE_SIZE[scale]
    rng = np.random.default_rng([seed, 8101])
    true_areas = {}

    def maps(start: int, end: int) -> tuple:
        """A period's map classes and strata, its true classes and their areas: passes over the rasters that
        draw nothing and release the GIL."""
        classes, true_map = activity_map(landscape.forest, zone, start, end), activity_map(truth, zone, start, end)
        return classes, strata_by_zone(classes, landscape.zones), true_map, mapped_areas(true_map, landscape.grid)[1]

    # the next period's maps in a thread while this one's sample is drawn, labelled and written (one after the
    # other they took a jurisdiction's 8 s on one core, the other idle)
    with ThreadPoolExecutor(1) as beside:
        coming = beside.submit(maps, *ASSESSMENT_EPOCHS[0])
        for i, (start, end) in enumerate(ASSESSMENT_EPOCHS):
            classes, strata, true_map, area = coming.result()
            if i + 1 < len(ASSESSMENT_EPOCHS):
                coming = beside.submit(maps, *ASSESSMENT_EPOCHS[i + 1])
            design = stratified_design(classes, landscape.grid, strata=strata, nodata=0, strata_nodata=0,
                                       n_total=n_total, allocation="minimum", min_per_stratum=minimum,
                                       seed=int(rng.integers(2**31)))
            del classes, strata
            table = sample_table(design)
            rows, cols = design.points["row"].to_numpy(), design.points["col"].to_numpy()
            loss_value = true_loss[rows, cols].astype(int)
            true_year = np.where(loss_value > 0, loss_value + YEAR_OFFSET, 0)  # 0: never lost
            true_class = true_map[rows, cols]
            del true_map
            table["ref_class"], kind = _labels(true_class, true_year, start, end, rng)
            path = out_dir / SAMPLES_DIR / f"{_slug(start, end)}.csv"
            with atomic_path(path) as tmp:
                table.to_csv(tmp, index=False)
            truth_table = pd.DataFrame({"id": table["id"], "true_class": true_class, "label": table["ref_class"],
                                        "error": kind != "", "error_kind": kind})
            with atomic_path(out_dir / TRUTH_SAMPLES_DIR / f"{_slug(start, end)}.csv") as tmp:
                truth_table.to_csv(tmp, index=False)
            true_areas[f"{start}-{end}"] = {str(k): round(v, 2) for k, v in area.items()}
    return true_areas

