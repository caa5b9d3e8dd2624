"""Nesting: a jurisdiction's reference level shared among its nested projects by a risk map.

Jurisdictional and nested REDD+ (VT0007 v1.0 §5.6; Verra's JNR requirements): a jurisdiction's
reference level shared among nested projects in proportion to the risk-map density inside each,
:func:`nest_reference_level`, after checking that no two projects overlap (:func:`check_no_overlap`
on polygons, :func:`check_masks_disjoint` on rasters). See docs/methods.md, "Baselines and nesting".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import shapely

from icam.core.errors import InputError
from icam.landscape.vector import overlapping_pairs
from icam.risk.allocate import as_2d, as_mask

_MAX_NAMED = 5  # pairs named in an overlap message


def check_no_overlap(projects: Mapping[str, shapely.Geometry], tolerance_ha: float = 0.0) -> None:
    """Refuse projects whose polygons overlap with an area above ``tolerance_ha`` (ha).

    Nested projects may not claim the same forest twice (Verra JNR requirements: no double
    counting among nested projects). Touching boundaries share no area and pass. Coordinates are
    taken to be metres (the project CRS), so area m² / 10⁴ = ha. Candidate pairs come from one
    ``shapely.STRtree`` query (bounding boxes, then the ``intersects`` predicate); only those pairs
    are intersected. Raises :class:`InputError` naming the overlapping pairs (the first five,
    largest overlap first) and their overlap areas in ha.
    """
    names = [str(n) for n in projects]
    geoms = np.array(list(projects.values()), dtype=object)
    if len(names) < 2:
        return
    missing = [n for n, g in zip(names, geoms) if not isinstance(g, shapely.Geometry)]
    if missing:
        raise InputError(f"project(s) without a shapely geometry: {', '.join(missing)}")
    invalid = [n for n, ok in zip(names, shapely.is_valid(geoms)) if not ok]
    if invalid:
        raise InputError(f"invalid project geometry: {', '.join(invalid)}",
                         "repair it (shapely.make_valid, or QGIS 'Fix geometries') and try again")
    left, right, overlap_m2 = overlapping_pairs(geoms)
    overlap_ha = overlap_m2 / 1e4
    bad = np.flatnonzero(overlap_ha > float(tolerance_ha))
    if bad.size == 0:
        return
    bad = bad[np.argsort(-overlap_ha[bad], kind="stable")]
    pairs = "; ".join(f"{names[left[k]]!r} and {names[right[k]]!r} overlap by {overlap_ha[k]:.4g} ha"
                      for k in bad[:_MAX_NAMED])
    more = f" (and {bad.size - _MAX_NAMED} more pairs)" if bad.size > _MAX_NAMED else ""
    raise InputError(f"nested projects overlap: {pairs}{more}",
                     "each hectare may belong to one project only; correct the boundaries")


def _label_map(project_masks: Mapping[str, np.ndarray], shape: tuple[int, ...] | None = None
               ) -> tuple[np.ndarray, list[str]]:
    """One int32 raster, 0 = no project, k = the k-th project (1-based); refuses shared pixels."""
    names = [str(n) for n in project_masks]
    if not names:
        raise InputError("no project masks given")
    if len(names) >= 2**31 - 1:
        raise InputError("too many projects")
    masks = list(project_masks.values())
    if shape is None:
        shape = np.shape(masks[0])
    if len(shape) != 2:
        raise InputError(f"project masks must be 2-D rasters, got shape {tuple(shape)}")
    label = np.zeros(shape, dtype=np.int32)
    flat = label.reshape(-1)
    shared: dict[tuple[int, int], int] = {}
    for k, (name, mask) in enumerate(zip(names, masks), start=1):
        where = np.flatnonzero(as_mask(mask, f"project {name!r}", tuple(shape)))
        held = flat[where]
        free = held == 0
        if not free.all():
            # a pixel in three projects is reported against the first project holding it
            others, n = np.unique(held[~free], return_counts=True)
            for j, count in zip(others.tolist(), n.tolist()):
                shared[(j, k)] = count
        flat[where[free]] = k
    if shared:
        worst = sorted(shared.items(), key=lambda item: -item[1])
        pairs = "; ".join(f"{names[j - 1]!r} and {names[k - 1]!r} share {n} pixels" for (j, k), n in worst[:_MAX_NAMED])
        more = f" (and {len(worst) - _MAX_NAMED} more pairs)" if len(worst) > _MAX_NAMED else ""
        raise InputError(f"nested projects overlap: {pairs}{more}",
                         "each pixel may belong to one project only; correct the boundaries")
    return label, names


def check_masks_disjoint(project_masks: Mapping[str, np.ndarray]) -> None:
    """Refuse project masks that share pixels, naming the pairs and the shared pixel counts.

    The raster form of :func:`check_no_overlap` (Verra JNR requirements: no double counting among
    nested projects). project_masks: name → bool (rows, cols), all the same shape.
    """
    _label_map(project_masks)


@dataclass(frozen=True)
class NestingResult:
    """A jurisdiction's reference level shared among nested projects (VT0007 v1.0 §5.6).

    allocation_ha_per_year: per project, RL × share (ha/yr). share: Σ density in the project /
    Σ density in the jurisdiction. unallocated_ha_per_year: RL − Σ allocations, the part of the
    reference level left to the jurisdiction outside the projects. density_ha_per_year: Σ density
    per project and over the jurisdiction, before scaling. project_px: pixels per project.
    """

    reference_level_ha_per_year: float
    projects: tuple[str, ...]
    allocation_ha_per_year: dict[str, float]
    share: dict[str, float]
    unallocated_ha_per_year: float
    project_density_ha_per_year: dict[str, float]
    jurisdiction_density_ha_per_year: float
    project_px: dict[str, int]

    def to_dict(self) -> dict:
        return {
            "method": "reference level allocated in proportion to risk-map density (VT0007 §5.6)",
            "reference_level_ha_per_year": float(self.reference_level_ha_per_year),
            "projects": list(self.projects),
            "allocation_ha_per_year": dict(self.allocation_ha_per_year),
            "share": dict(self.share),
            "unallocated_ha_per_year": float(self.unallocated_ha_per_year),
            "project_density_ha_per_year": dict(self.project_density_ha_per_year),
            "jurisdiction_density_ha_per_year": float(self.jurisdiction_density_ha_per_year),
            "project_px": dict(self.project_px),
        }


def nest_reference_level(reference_level_ha_per_year: float, density_ha_per_year: np.ndarray,
                         jurisdiction: np.ndarray, project_masks: Mapping[str, np.ndarray]) -> NestingResult:
    """Allocate a jurisdictional reference level (ha/yr) to nested projects by the risk map.

    Source: VT0007 v1.0 (2024) §5.6 (the jurisdictional activity data or FREL allocated to
    projects in proportion to the risk-map density within each) and Verra's JNR requirements
    (nested projects may not overlap). For project p with pixels P inside jurisdiction J,

        allocation_p = RL × Σ_{x ∈ P} δ_x / Σ_{x ∈ J} δ_x,   unallocated = RL − Σ_p allocation_p,

    so allocations and the remainder add up to RL to floating-point precision (the remainder is
    ≥ 0; it is clipped at 0 against a rounding residue of a few ulp when projects cover every
    pixel with density). With a density map already adjusted to RL (Σ_J δ = RL) the allocation is
    simply Σ_P δ. The formula is unit-free: an RL in tCO2e/yr is shared the same way.

    reference_level_ha_per_year: RL ≥ 0. density_ha_per_year: float (rows, cols), ha per pixel
    per year, finite and ≥ 0 in the jurisdiction (NaN outside it is ignored), not all 0 there.
    jurisdiction: bool mask. project_masks: name → bool mask; refused when two share a pixel or
    one extends outside the jurisdiction. One int32 label map and one ``np.bincount`` give every
    project's sum.
    """
    rl = float(reference_level_ha_per_year)
    if not (math.isfinite(rl) and rl >= 0):
        raise InputError(f"the reference level must be a finite number ≥ 0 ha/yr, got {reference_level_ha_per_year}")
    density = as_2d(density_ha_per_year, "the density map")
    if not np.issubdtype(density.dtype, np.number) or np.iscomplexobj(density):
        raise InputError(f"the density map must be real numbers, got dtype {density.dtype}")
    jur = as_mask(jurisdiction, "the jurisdiction mask", density.shape)
    label, names = _label_map(project_masks, density.shape)
    outside = np.bincount(label[~jur], minlength=len(names) + 1)[1:]
    if outside.any():
        listed = ", ".join(f"{names[k]!r} ({n} pixels)" for k, n in enumerate(outside.tolist()) if n)
        raise InputError(f"nested projects extend outside the jurisdiction: {listed}",
                         "clip the project boundaries to the jurisdiction")
    values = density[jur]
    n_bad = int(np.count_nonzero(~(values >= 0) | np.isinf(values)))
    if n_bad:
        raise InputError(f"the density map holds {n_bad} negative or non-finite values in the jurisdiction",
                         "densities are ha per pixel per year, ≥ 0 everywhere in the jurisdiction")
    sums = np.bincount(label[jur], weights=values.astype(np.float64, copy=False), minlength=len(names) + 1)
    del values
    px = np.bincount(label.ravel(), minlength=len(names) + 1)[1:]
    total = math.fsum(sums.tolist())
    if not total > 0:
        raise InputError("the density map is 0 everywhere in the jurisdiction",
                         "there is no modelled deforestation to share among projects")
    share = sums[1:] / total
    allocation = rl * share
    unallocated = max(0.0, rl - math.fsum(allocation.tolist()))
    return NestingResult(
        reference_level_ha_per_year=rl,
        projects=tuple(names),
        allocation_ha_per_year=dict(zip(names, allocation.tolist())),
        share=dict(zip(names, share.tolist())),
        unallocated_ha_per_year=unallocated,
        project_density_ha_per_year=dict(zip(names, sums[1:].tolist())),
        jurisdiction_density_ha_per_year=total,
        project_px=dict(zip(names, px.tolist())),
    )
