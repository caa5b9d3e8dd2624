"""Forest state through time on the project grid, in one compact form for every source.

Whatever the input (Hansen tiles, yearly maps, fcc rasters, land-cover stacks, year-of-loss
rasters), ingestion yields a :class:`ForestChange`: the forest mask at the first epoch and,
for each cell, the period in which it was lost. Forest at epoch k is then
``forest_first & ((loss_period == 0) | (loss_period > k))``. Regrowth is not tracked: a
cell lost once stays non-forest (the convention of Hansen GFC and forestatrisk).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NO_LOSS = 0


@dataclass(frozen=True, eq=False)
class ForestChange:
    """Forest at ``epochs[0]`` and the period of loss of each cell.

    epochs: years at which forest state is known, ascending (2000, 2001, ... for annual data).
    forest_first: bool (rows, cols), forest at epochs[0].
    loss_period: uint8 (rows, cols); 0 = not lost; p = lost between epochs[p-1] and epochs[p].
    valid: bool (rows, cols), the cell has data in every input.
    source: a short description of the input, for reports and the manifest.
    """

    epochs: tuple[int, ...]
    forest_first: np.ndarray
    loss_period: np.ndarray
    valid: np.ndarray
    source: str

    def __post_init__(self) -> None:
        if list(self.epochs) != sorted(set(self.epochs)) or len(self.epochs) < 2:
            raise ValueError(f"epochs must be at least two ascending distinct years, got {self.epochs}")
        shapes = {self.forest_first.shape, self.loss_period.shape, self.valid.shape}
        if len(shapes) != 1:
            raise ValueError(f"forest_first, loss_period and valid differ in shape: {shapes}")
        if self.loss_period.dtype != np.uint8:
            raise ValueError("loss_period must be uint8")

    @property
    def shape(self) -> tuple[int, int]:
        return self.forest_first.shape

    @property
    def n_periods(self) -> int:
        return len(self.epochs) - 1

    @property
    def is_annual(self) -> bool:
        return all(b - a == 1 for a, b in zip(self.epochs, self.epochs[1:]))

    def forest_at(self, epoch_index: int) -> np.ndarray:
        """Forest mask at ``epochs[epoch_index]``."""
        k = epoch_index % len(self.epochs)
        lp = self.loss_period
        return self.forest_first & self.valid & ((lp == NO_LOSS) | (lp > k))

    def forest_in(self, year: int) -> np.ndarray:
        """Forest mask at the given epoch year."""
        if year not in self.epochs:
            raise KeyError(f"{year} is not an epoch of this forest data ({self.epochs[0]}–{self.epochs[-1]})")
        return self.forest_at(self.epochs.index(year))

    def loss_year(self) -> np.ndarray:
        """uint16: the end year of the period of loss (the year of loss for annual data); 0 = no loss."""
        lookup = np.zeros(256, dtype=np.uint16)
        lookup[1 : len(self.epochs)] = self.epochs[1:]
        return lookup[self.loss_period]
