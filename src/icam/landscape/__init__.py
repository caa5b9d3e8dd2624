"""The landscape: one grid per project, the zones on it, and the forest data read onto it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from icam.forest.change import ForestChange
from icam.landscape.grid import Grid


@dataclass(frozen=True, eq=False)
class Zones:
    """Boundaries rasterised onto the grid; a zone that was not configured is None.

    admin_id: int32, 0 = in no unit, i = the unit named admin_names[i - 1].
    """

    project: np.ndarray | None = None
    leakage_belt: np.ndarray | None = None
    reference_region: np.ndarray | None = None
    admin_id: np.ndarray | None = None
    admin_names: tuple[str, ...] = field(default_factory=tuple)

    def masks(self) -> dict[str, np.ndarray]:
        """Named zone masks: project_area, leakage_belt, reference_region, then admin:<name> per unit."""
        named = {
            "project_area": self.project,
            "leakage_belt": self.leakage_belt,
            "reference_region": self.reference_region,
        }
        out = {name: mask for name, mask in named.items() if mask is not None}
        if self.admin_id is not None:
            for i, name in enumerate(self.admin_names, start=1):
                out[f"admin:{name}"] = self.admin_id == i
        return out


@dataclass(frozen=True, eq=False)
class Landscape:
    """Everything read onto the project grid."""

    grid: Grid
    zones: Zones
    forest: ForestChange
