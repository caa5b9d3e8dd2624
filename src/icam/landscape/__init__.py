"""The landscape: one grid per project, the zones on it, and the forest data read onto it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from icam.forest.change import ForestChange
from icam.landscape.grid import Grid


@dataclass(frozen=True, eq=False)
class Zones:
    """Boundaries rasterised onto the grid; a zone that was not configured is None.

    admin_id: unsigned integers (the smallest type that holds them), 0 = in no unit, i = the unit named
    admin_names[i - 1].
    """

    project: np.ndarray | None = None
    leakage_belt: np.ndarray | None = None
    reference_region: np.ndarray | None = None
    admin_id: np.ndarray | None = None
    admin_names: tuple[str, ...] = field(default_factory=tuple)

    def masks(self) -> ZoneMasks:
        """Named zone masks: project_area, leakage_belt, reference_region, then admin:<name> per unit."""
        named = {"project_area": self.project, "leakage_belt": self.leakage_belt,
                 "reference_region": self.reference_region}
        return ZoneMasks({name: mask for name, mask in named.items() if mask is not None}, self.admin_id,
                         self.admin_names)


class ZoneMasks(Mapping[str, np.ndarray]):
    """:meth:`Zones.masks`, read-only: a unit's mask is made when it is asked for. A jurisdiction has tens of
    units, each a comparison over tens of millions of cells, and most callers want one named zone."""

    def __init__(self, named: dict[str, np.ndarray], admin_id: np.ndarray | None, admin_names: tuple[str, ...]):
        self._named, self._admin_id = named, admin_id
        self._units = {} if admin_id is None else {f"admin:{name}": i for i, name in enumerate(admin_names, start=1)}

    def __getitem__(self, name: str) -> np.ndarray:
        if name in self._named:
            return self._named[name]
        return self._admin_id == self._units[name]  # KeyError for a name that is neither

    def __iter__(self) -> Iterator[str]:
        yield from self._named
        yield from self._units

    def __len__(self) -> int:
        return len(self._named) + len(self._units)

    def __contains__(self, name: object) -> bool:
        return name in self._named or name in self._units


@dataclass(frozen=True, eq=False)
class Landscape:
    """Everything read onto the project grid."""

    grid: Grid
    zones: Zones
    forest: ForestChange
