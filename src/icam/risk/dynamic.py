"""A dynamic baseline: each year's baseline deforestation of a zone from the loss that year in the control area
(the risk zone outside the project and its leakage belt), scaled by the zone's own history (docs/methods.md,
"Dynamic baseline from matched controls"; the matching of PACT's methodology is run to report the covariates'
balance between the zone and its controls; the regression below uses a sample of the whole control area).

For zone Z (the project area, or the leakage belt), carbon stratum s and calendar year y, with x_i(y) the
covariates of forest cell i at the end of year y − 1 (:meth:`MatchingLandscape.features`):

    p(u)      = 1 − exp(−u)                            a cell's yearly loss probability at cumulative hazard u
    β         the discrete-time proportional-hazards model (a cloglog GLM, :mod:`icam.risk.cloglog`) of loss
              on x with a fixed effect per year, over the HRP's cell-years of a sample of the control area
    h_i(y)    = exp(x_i(y)·β)                          cell i's relative hazard
    a_y       solves Σ_{control forest at the start of y} p(a_y·h_i(y)) = the control area's loss in y (mapped,
              × the sample's adjustment of the control area's mapped loss over the assessment holding y; on
              ``n_level`` of the control cells where it has more)
    O         = Σ_{y ∈ HRP} mapped loss of Z × r_Z     observed over the historical reference period (HRP), r_Z
                                                       the sample's adjustment of Z's mapped loss over it
    k         solves Σ_{y ∈ HRP} Σ_{i ∈ Z, forest at the start of y} p(k·a_y·h_i(y)) × cell area = O
    B_Z,s(y)  = Σ_{i ∈ Z ∩ s, forest at the start of y} p(k·a_y·h_i(y)) × cell area     the baseline, ha

k is an indirect standardisation (the standardised incidence ratio, Breslow & Day 1987, *Statistical Methods
in Cancer Research* II §2.3) on the hazard scale: whatever the zone has that its controls lack and that does
not change (legal protection, an unmeasured local driver) is carried by k, and the year-to-year swings of
clearing come from the controls, observed in the same year. The design is a difference in differences on the
log hazard, the pre-period calibration of a synthetic control (Abadie, Diamond & Hainmueller 2010, *JASA*
105:493–505) reduced to one weight, with the covariates' regression adjustment that Ho, Imai, King & Stuart
2007 (*Political Analysis* 15:199–236) recommend after matching: a zone with ten times less hazard than any
control (a protected forest) depletes ten times more slowly than its controls, so their raw rates drift apart;
the covariates' hazard follows each cell as it is.

Standard errors: k's relative SE² = the observed loss's (the zone's 1 km blocks resampled: n_b × var of
the blocks' loss over their total²) + 1/(the control cells lost over the HRP) + r_Z's; a year's baseline adds
1/(the control cells lost that year) and, after the HRP, the placebo tiles' error V(y) of the loss accumulated
since the HRP (:mod:`icam.risk.placebo`; × the tile's forest over the zone's where the zone is smaller).
Units: ha, calendar years; loss years are calendar years (0 = never lost).
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from icam.core.errors import InputError
from icam.core.forked import map_shared, workers_for
from icam.risk import cloglog
from icam.risk.matching import match, sample_cells
from icam.risk.matching_landscape import MatchingLandscape, values_at
from icam.risk.placebo import PlaceboTiles, SquareTiles, square_index

# a year's task (fit or predict) per cell: the covariates, the forest, the hazard and their temporaries
YEAR_BYTES_PER_CELL = 48


@dataclass(frozen=True)
class YearBaseline:
    """One stratum's baseline in one year: B = Σ p(k × a_y × exp(x·β)) × cell area, with its SE (ha)."""

    baseline_ha: float
    se_ha: float
    year_effect: float  # a_y: the control area's level that year
    forest_ha: float


@dataclass(eq=False)
class MatchedControlBaseline:
    """The dynamic baseline of several zones (module docstring), in scikit-learn's style: parameters here,
    ``fit`` on the historical reference period, ``predict`` per year.

    n_treated: each zone's forest cells sampled per matching (PACT's K); pool_ratio: control cells sampled per
    treated cell (PACT's S = 10 K); n_neighbours: controls per treated cell; n_fit: control cells of β's
    regression; n_level: control cells (forest at the start of the HRP) on which every year's level a_y and
    the placebo tiles' sums are computed, all of them where there are fewer (a jurisdiction's tens of
    millions are sampled: :meth:`_level_panel`); min/max_placebo_tiles: bounds on the number of placebo tiles
    of a zone's size (:mod:`icam.risk.placebo`); seed: the samples' generator.
    Learned: ``coef_`` (β of the standardised covariates), ``k_`` and ``k_se_`` per zone, the historical
    ``observed_hrp_ha_`` and ``expected_hrp_ha_`` per zone, the matchings' ``balance_`` per zone, and per zone
    the placebo tiles (``placebo_``) and their error V(y) after the HRP (``drift_var_``, set by ``predict``).
    """

    n_treated: int = 20_000
    pool_ratio: int = 10
    n_neighbours: int = 10
    n_fit: int = 150_000
    n_level: int = 6_000_000
    min_placebo_tiles: int = 6
    max_placebo_tiles: int = 200
    seed: int = 0
    coef_: np.ndarray | None = field(init=False, default=None)
    k_: dict = field(init=False, default_factory=dict)
    k_se_: dict = field(init=False, default_factory=dict)
    observed_hrp_ha_: dict = field(init=False, default_factory=dict)
    expected_hrp_ha_: dict = field(init=False, default_factory=dict)
    balance_: dict = field(init=False, default_factory=dict)
    drift_var_: dict = field(init=False, default_factory=dict)
    placebo_: dict = field(init=False, default_factory=dict)
    _land: MatchingLandscape | None = field(init=False, default=None, repr=False)
    _zones: dict = field(init=False, default_factory=dict, repr=False)
    _scale: tuple | None = field(init=False, default=None, repr=False)
    _control_ratio: dict = field(init=False, default_factory=dict, repr=False)
    _tiles: dict = field(init=False, default_factory=dict, repr=False)
    _zone_cells: dict = field(init=False, default_factory=dict, repr=False)
    _level_cells: np.ndarray | None = field(init=False, default=None, repr=False)
    _zone_start_cells: dict = field(init=False, default_factory=dict, repr=False)
    _static_eta: dict = field(init=False, default_factory=dict, repr=False)
    _level_year: int = field(init=False, default=0, repr=False)
    _level_edge_m: np.ndarray | None = field(init=False, default=None, repr=False)  # until β's rows are read
    _last_hrp_year: int = field(init=False, default=0, repr=False)
    _hrp_hazards: dict = field(init=False, default_factory=dict, repr=False)  # year → fit's, for predict

    def _samples(self, zone: str, year: int) -> tuple[np.ndarray, np.ndarray]:
        """A zone's matching samples at the end of ``year`` (flat indices): its forest cells in a stratum
        (PACT's K), and the control area's (S, ``pool_ratio`` times as many)."""
        rng = np.random.default_rng([self.seed, year, list(self._zones).index(zone)])
        land = self._land
        treated = sample_cells(self._zones[zone] & land.forest_at(year) & (land.strata > 0), self.n_treated, rng)
        pool = sample_cells(land.control & land.forest_at(year) & (land.strata > 0),
                            self.n_treated * self.pool_ratio, rng)
        return treated, pool

    def _balance(self, year: int) -> dict[str, list]:
        """Per zone, the covariates' balance between its sample and its matched controls at the end of
        ``year``. The covariates are computed at the sampled cells only: over a jurisdiction's whole raster they
        were three more float32 rasters at the accounting's start, for a few hundred thousand cells."""
        samples = {z: self._samples(z, year) for z in self._zones}
        cells = np.unique(np.concatenate([c for pair in samples.values() for c in pair]))
        features = self._land.matching_features(year, cells, self._edge_distance_m(year))
        strata = self._land.strata.ravel()[cells]
        # the samples as positions among the cells, where the covariates are
        return {z: match(features, np.searchsorted(cells, treated), np.searchsorted(cells, pool), groups=strata,
                         n_neighbours=self.n_neighbours).balance()
                for z, (treated, pool) in samples.items()}

    def _edge_distance_m(self, year: int) -> np.ndarray:
        """:meth:`MatchingLandscape.edge_distance_m`; at the end of the level's year (the HRP's start) the one kept
        for the balance and β's first year, which need it both (a distance transform less: 1.4 to 2.3 s at a
        jurisdiction)."""
        if year == self._level_year and self._level_edge_m is not None:
            return self._level_edge_m
        return self._land.edge_distance_m(year)

    def _start_cells(self) -> dict[str, np.ndarray]:
        """The cells whose covariates the years read (:func:`_year_cells`), at the start of the HRP."""
        return {LEVEL_CELLS: self._level_cells, **self._zone_start_cells}

    def _static_terms(self) -> dict[str, np.ndarray]:
        """Per key of :meth:`_start_cells`, the static covariates' part of η = x·β at its cells, computed once: the
        static covariates come first in the hazard's, so a year continues these sums with the edge's terms and
        gets exp(x·β) to the bit as from all its terms at once (:func:`cloglog.linear_terms`), without reading
        the static rasters again at millions of cells every year."""
        mean, sd = self._scale
        n = len(self._land.static)
        columns = list(self._land.static.values())
        return {key: cloglog.linear_terms(columns, cells, mean[:n], sd[:n], self.coef_[:n])
                for key, cells in self._start_cells().items()}

    def _hazard(self, edge: Mapping[str, np.ndarray], static_eta: np.ndarray) -> np.ndarray:
        """exp(x·β) of cells whose edge covariates ``edge`` holds (:meth:`MatchingLandscape.edge_features`) and
        whose static covariates' part of η is ``static_eta`` (:meth:`_static_terms`): the relative hazard the
        covariates give, x standardised and a missing value at the mean (0), :func:`cloglog.relative_hazard`."""
        mean, sd = self._scale
        n = len(self._land.static)
        columns = list(edge.values())
        return cloglog.relative_hazard(columns, np.arange(columns[0].size), mean[n:], sd[n:], self.coef_[n:],
                                       start=static_eta)

    def _year_effect(self, year: int, cells: np.ndarray, edge_m: np.ndarray,
                     static_eta: np.ndarray) -> tuple[float, float, dict[str, np.ndarray]]:
        """a_y: the level at which the control ``cells`` forest at the start of ``year`` (:func:`_year_cells`;
        features at the end of the year before, ``edge_m`` their distance to the edge, ``static_eta`` the static
        covariates' part of η) lose what they lost that year (mapped, times the year's sample adjustment); the
        number of control cells lost; and per zone, the control cells' expected and observed loss summed over
        its placebo tiles (:mod:`icam.risk.placebo`), for :meth:`_add_to_tiles`."""
        land = self._land
        lost_cells = land.loss_year.ravel()[cells] == year
        lost, ratio = float(np.count_nonzero(lost_cells)), self._control_ratio.get(year, 1.0)
        hazard = self._hazard(land.edge_features(year - 1, cells, edge_m), static_eta)
        a_y = cloglog.solve_scale(hazard, lost * ratio)
        # the probability in the hazard's own buffer: tens of millions of cells a year at a jurisdiction
        expected = cloglog.probability(np.multiply(hazard, a_y, out=hazard), out=hazard)
        return a_y, lost, {z: tiles.sums(cells, expected, lost_cells, ratio) for z, tiles in self._tiles.items()}

    def _add_to_tiles(self, year: int, sums: Mapping[str, np.ndarray]) -> None:
        """A year's tile sums (:meth:`_year_effect`), in year order: into the tiles' HRP before they are fitted,
        then year by year after the HRP, each giving the year's placebo error V(y)."""
        for z, tiles in self._tiles.items():
            if tiles.k_ is None:
                tiles.add_historical(sums[z])
            elif year > self._last_hrp_year:
                self.drift_var_[z][year] = tiles.add_year(sums[z])

    def _zone_hazard(self, year: int, cells: np.ndarray, edge_m: np.ndarray,
                     static_eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The stratum id and relative hazard h = exp(x·β) of a zone's ``cells`` forest at the start of ``year``
        (:func:`_year_cells`; ``edge_m`` their distance to the edge, ``static_eta`` the static part of η)."""
        land = self._land
        return land.strata.ravel()[cells], self._hazard(land.edge_features(year - 1, cells, edge_m), static_eta)

    def _fit_coef(self, years: Sequence[int], scratch: Path) -> None:
        """β: the cloglog model of loss on the covariates, with a fixed effect per year, over the cell-years
        of ``years`` of a random sample of the control area's forest. Each year's task keeps the distances to
        the edge that the year's second pass reads (:func:`_design_at`) in ``scratch``."""
        land = self._land
        rng = np.random.default_rng([self.seed, years[0]])
        controls = sample_cells(land.control & land.forest_at(years[0] - 1) & (land.strata > 0), self.n_fit, rng)
        lost_year = land.loss_year.ravel()[controls]
        at_risk = [(lost_year == 0) | (lost_year >= y) for y in years]
        tasks = [(y, controls[r], scratch) for y, r in zip(years, at_risk)]
        rows = map_shared(_design_at, self, tasks, workers=_year_workers(land))
        self._level_edge_m = None  # the first year's task has read it (in a worker, this process's is left)
        labels = np.concatenate([lost_year[r] == y for y, r in zip(years, at_risk)])
        design, self._scale = _standardised_design(rows)
        beta = cloglog.fit(design, labels)
        self.coef_ = beta[: self._scale[0].size]

    def fit(self, land: MatchingLandscape, zones: Mapping[str, np.ndarray], hrp_years: Sequence[int],
            adjustments: Mapping[str, tuple[float, float]] | None = None,
            control_ratio: Mapping[int, float] | None = None) -> MatchedControlBaseline:
        """β from a sample of the control area over ``hrp_years``, then each zone's k (the factor on its
        hazard that gives its loss over those years: the mapped loss × the zone's ``adjustments`` ratio, whose
        relative SE adds to k's). ``control_ratio``: per year, the sample's adjustment of the control area's
        mapped loss (a map's errors change over time and place: its false loss follows the old edges, which
        the controls lose first), used for a_y here and in :meth:`predict`."""
        self._control_ratio = dict(control_ratio or {})
        hrp_years = sorted(int(y) for y in hrp_years)
        if not hrp_years or hrp_years[0] - 1 < land.first_year:
            raise InputError(f"the dynamic baseline's historical years {hrp_years} start before the forest data "
                             f"({land.first_year})", "start the historical reference period after the first year")
        self._land, self._zones = land, {z: np.asarray(m, dtype=bool) for z, m in zones.items()}
        self._level_year = hrp_years[0] - 1
        start_forest = land.forest_at(self._level_year) & (land.strata > 0)  # the cells a year can match
        self._level_cells = self._level_panel(land.control & start_forest)
        self._zone_start_cells = {z: np.flatnonzero(mask & start_forest) for z, mask in self._zones.items()}
        self._start_tiles(hrp_years, start_forest)
        self._level_edge_m = land.edge_distance_m(self._level_year)
        self.balance_ = self._balance(self._level_year)
        scaled = {z: [] for z in zones}  # a_y × h_i(y) of every zone cell-year of the HRP
        lost_controls = 0.0  # the control cells lost over the HRP: the same a_y serve every zone
        # a year's distance transform once, not for β's design and again for its hazards: the distances the
        # hazards read are kept on disk in between (tens of MB a year at a jurisdiction, not in this process)
        with tempfile.TemporaryDirectory(prefix="icam-dynamic-") as scratch:
            self._fit_coef(hrp_years, Path(scratch))
            self._static_eta = self._static_terms()
            years = map_shared(_hrp_year, self, [(y, Path(scratch)) for y in hrp_years],
                               workers=_year_workers(land))
        self._hrp_hazards = {}
        for y, (a_y, lost, sums, hazards) in zip(hrp_years, years):
            self._add_to_tiles(y, sums)
            self._hrp_hazards[y] = a_y, lost, hazards
            lost_controls += lost
            for z in zones:
                scaled[z].append(a_y * hazards[z][1])
        for z, mask in self._zones.items():
            in_zone = mask & land.forest_first & (land.loss_year >= hrp_years[0]) & (land.loss_year <= hrp_years[-1])
            hazard = np.concatenate(scaled[z])
            if not np.any(hazard > 0):
                raise InputError(f"the dynamic baseline: the {z.replace('_', ' ')}'s controls lost no "
                                 "forest over the historical years",
                                 "lengthen the historical reference period or widen the control area")
            ratio, ratio_rel_se = (adjustments or {}).get(z, (1.0, 0.0))
            n_lost = float(np.count_nonzero(in_zone)) * ratio
            self.observed_hrp_ha_[z] = n_lost * land.cell_area_ha
            self.expected_hrp_ha_[z] = float(cloglog.probability(hazard).sum()) * land.cell_area_ha
            self.k_[z] = cloglog.solve_scale(hazard, n_lost)
            rel = _block_relative_variance(in_zone, mask & land.forest_first, land.cell_size_m)
            self.k_se_[z] = self.k_[z] * float(np.sqrt(rel + 1 / max(lost_controls, 1) + ratio_rel_se ** 2))
        for tiles in self._tiles.values():
            tiles.fit_k()
        return self

    def _level_panel(self, control_forest: np.ndarray) -> np.ndarray:
        """The control cells every year's level a_y is computed on (ascending flat indices): the control area's
        forest at the start of the HRP (``control_forest``), or ``n_level`` of its cells drawn at random
        where it has more. The cells still forest at the start of a later year are then a random sample of the
        control forest of that year, so a_y is a ratio estimator of the whole area's level; its sampling error
        is in the year's 1 / (control cells lost), counted on the sample (6 million cells losing 0.7 % a year:
        a relative SE of 0.5 %). Every cell of a project's landscape is used (about 5 million on the simulated
        Alto Mayo); a jurisdiction's 35 million cost 2 s a year in the hazards, the level's equation and the
        tiles' sums, and 0.8 GB in each year's process."""
        rng = np.random.default_rng([self.seed, 1, self._level_year])  # its own stream: the others do not move
        return sample_cells(control_forest, self.n_level, rng)

    def _start_tiles(self, hrp_years: Sequence[int], forest: np.ndarray) -> None:
        """Per zone, placebo tiles over the control area's ``forest`` at the start of the HRP (in a stratum),
        each of about the zone's forest then (between ``min_placebo_tiles`` and ``max_placebo_tiles`` of
        them)."""
        land = self._land
        domain = land.control & forest
        control_cells = float(np.count_nonzero(domain))
        self._last_hrp_year = hrp_years[-1]
        self._tiles, self.placebo_, self.drift_var_ = {}, {}, {}
        for z, mask in self._zones.items():
            self._zone_cells[z] = zone_cells = float(np.count_nonzero(mask & forest))
            n_wanted = int(np.clip(round(control_cells / max(zone_cells, 1.0)), self.min_placebo_tiles,
                                   self.max_placebo_tiles))
            squares = SquareTiles.of(domain, n_wanted)
            self._tiles[z] = PlaceboTiles(squares, squares.n_tiles, squares.mean_cells())
            self.placebo_[z] = {"tiles": squares.n_tiles, "tile_side_km": squares.side * land.cell_size_m / 1000.0,
                                "tile_forest_ha": self._tiles[z].forest_cells * land.cell_area_ha}
            self.drift_var_[z] = {}

    def drift_scale(self, zone: str) -> float:
        """The placebo error's variance for ``zone``: the tiles' as it is for a zone at least a tile's size
        (not shrunk for a larger zone), scaled up by the tile's forest over the zone's for a smaller one."""
        return max(1.0, self._tiles[zone].forest_cells / max(self._zone_cells[zone], 1.0))

    def predict(self, years: Sequence[int]) -> dict[str, dict[str, dict]]:
        """Per zone, stratum name and year: the :class:`YearBaseline`. The years are independent but for the
        placebo tiles' running sums, added here in year order: they run on every core (forked workers that
        inherit the fitted model, :mod:`icam.core.forked`), as many as the memory holds."""
        if self.coef_ is None:
            raise InputError("the dynamic baseline is not fitted", "call fit() first")
        land = self._land
        out = {z: {name: {} for name in land.strata_names} for z in self._zones}
        for z, tiles in self._tiles.items():
            tiles.restart()
            self.drift_var_[z] = {}
        years = sorted(years)
        if years and years[0] - 1 < self._level_year:
            raise InputError(f"the dynamic baseline predicts from the historical reference period's first year "
                             f"({self._level_year + 1}), not {years[0]}", "predict later years")
        # the HRP's years from the hazards the fit computed (the same cells and distances: the same numbers), the
        # others in year tasks, each a distance transform of the whole raster
        todo = [y for y in years if y not in self._hrp_hazards]
        computed = dict(zip(todo, map_shared(_predict_year, self, [(y,) for y in todo], workers=_year_workers(land))))
        for y in years:
            a_y, lost, sums, zones = computed[y] if y in computed else self._hrp_prediction(y)
            self._add_to_tiles(y, sums)
            for z, (base_cells, forest_cells) in zones.items():
                rel = (self.k_se_[z] / self.k_[z]) ** 2 if self.k_[z] > 0 else 0.0
                rel += self.drift_var_[z].get(y, 0.0) * self.drift_scale(z)
                base, forest_ha = base_cells * land.cell_area_ha, forest_cells * land.cell_area_ha
                for s in range(1, len(land.strata_names) + 1):
                    se = base[s] * float(np.sqrt(rel + 1 / max(lost, 1)))
                    out[z][land.strata_names[s - 1]][y] = YearBaseline(float(base[s]), se, a_y, float(forest_ha[s]))
        return out

    def _hrp_prediction(self, year: int) -> tuple:
        """:func:`_predict_year` of an HRP year, from the hazards the fit kept (no placebo sums: the tiles take
        the HRP's in the fit only)."""
        a_y, lost, hazards = self._hrp_hazards[year]
        return a_y, lost, None, _zone_loss(self, a_y, hazards)


def _year_workers(land: MatchingLandscape) -> Callable[[], int]:
    """How many years run side by side: as many as the cores, and half the available memory, hold; asked again
    before each year run in this process (a background process may end meanwhile:
    :func:`icam.core.forked.imap_shared`)."""
    return functools.partial(workers_for, YEAR_BYTES_PER_CELL * land.loss_year.size)


LEVEL_CELLS = "the level's controls"  # :func:`_year_cells`' key of the level's cells; its other keys are the zones


def _year_rows(model: MatchedControlBaseline, year: int) -> dict[str, np.ndarray]:
    """Per key of :meth:`MatchedControlBaseline._start_cells`, which of its cells are still forest at the start
    of ``year`` (forest only shrinks): their loss years say which, where a pass over the raster's every cell and
    a list of its zones' cells cost 0.2 s a zone and a year at a jurisdiction."""
    loss_year = model._land.loss_year.ravel()

    def still_forest(cells: np.ndarray) -> np.ndarray:
        lost = loss_year[cells]
        return (lost == 0) | (lost >= year)

    return {key: still_forest(cells) for key, cells in model._start_cells().items()}


def _year_cells(model: MatchedControlBaseline, year: int,
                rows: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The cells forest at the start of ``year`` whose covariates a year of the fit or the prediction reads:
    :data:`LEVEL_CELLS` → the control cells of the level a_y, zone → the zone's cells in a stratum; the HRP's
    start cells at ``rows`` (:func:`_year_rows`, computed where not given)."""
    rows = _year_rows(model, year) if rows is None else rows
    return {key: cells[rows[key]] for key, cells in model._start_cells().items()}


def _year_edges(model: MatchedControlBaseline, year: int, rows: dict[str, np.ndarray],
                scratch: Path | None = None) -> tuple[dict, dict]:
    """:func:`_year_cells` at the start of ``year`` (``rows``: :func:`_year_rows`) and the distance to the edge
    at them, computed or, with ``scratch``, as :func:`_design_at` kept them."""
    cells = _year_cells(model, year, rows)
    if scratch is not None:
        with np.load(_scratch_file(scratch, year)) as kept:
            return cells, {z: kept[z] for z in cells}
    edge_m = model._land.edge_distance_m(year - 1)
    return cells, {z: values_at(edge_m, c) for z, c in cells.items()}


def _scratch_file(scratch: Path, year: int) -> Path:
    return scratch / f"edge_{year}.npz"


def _year_start(model: MatchedControlBaseline, year: int, scratch: Path | None = None) -> tuple:
    """What every year of the fit and of the prediction starts with: per key of :func:`_year_cells`, its cells,
    their distance to the edge (:func:`_year_edges`) and the static part of η there; then
    :meth:`MatchedControlBaseline._year_effect`'s (a_y, control cells lost, sums)."""
    rows = _year_rows(model, year)
    cells, edges = _year_edges(model, year, rows, scratch)
    at = {key: (cells[key], edges[key], model._static_eta[key][rows[key]]) for key in cells}
    return at, *model._year_effect(year, *at[LEVEL_CELLS])


def _standardised_design(rows: list[np.ndarray]) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """β's design from each year's covariate rows (:func:`_design_at`, taken out of ``rows`` as they are copied):
    the covariates standardised by their mean and SD over all the rows (NaN then 0), and an intercept column per
    year; (design, (mean, SD)). Built in its one array, not stacked, scaled and joined (the rows, their stack, its
    scaled copy, the intercepts and the joined design: 0.75 GB at a jurisdiction, against the design's 0.23)."""
    n_covariates, n_years = rows[0].shape[1], len(rows)
    design = np.zeros((sum(len(r) for r in rows), n_covariates + n_years))
    start = 0
    for year in range(n_years):
        part = rows.pop(0)
        design[start:start + len(part), :n_covariates] = part
        design[start:start + len(part), n_covariates + year] = 1.0
        start += len(part)
    x = design[:, :n_covariates]
    mean, sd = np.nanmean(x, axis=0), np.nanstd(x, axis=0)
    sd[sd == 0] = 1.0
    x -= mean
    x /= sd
    np.nan_to_num(x, copy=False)
    return design, (mean, sd)


def _design_at(model: MatchedControlBaseline, year: int, cells: np.ndarray, scratch: Path) -> np.ndarray:
    """The hazard's covariates at the start of ``year`` at ``cells`` (float64 rows), a task of β's fit; the
    distances to the edge at the cells the year's hazards read (:func:`_year_cells`) are kept in ``scratch``."""
    land = model._land
    edge_m = model._edge_distance_m(year - 1)
    if year - 1 == model._level_year:  # its last reader: not held beside the next years' transforms where they
        model._level_edge_m = None  # run in this process, one after the other (0.25 GB at a jurisdiction)
    np.savez(_scratch_file(scratch, year), **{z: values_at(edge_m, c) for z, c in _year_cells(model, year).items()})
    return np.column_stack(list(land.features(year - 1, cells, edge_m).values())).astype(np.float64)


def _hrp_year(model: MatchedControlBaseline, year: int, scratch: Path) -> tuple:
    """One year of the historical period in :meth:`MatchedControlBaseline.fit`, once β is fitted: (a_y, control
    cells lost, the placebo tiles' sums, per zone the stratum and relative hazard of its forest cells)."""
    at, a_y, lost, sums = _year_start(model, year, scratch)
    return a_y, lost, sums, {z: model._zone_hazard(year, *at[z]) for z in model._zones}


def _predict_year(model: MatchedControlBaseline, year: int) -> tuple:
    """One year of :meth:`MatchedControlBaseline.predict` on the fitted ``model``: (a_y, control cells lost,
    the placebo tiles' sums, per zone the expected loss and the forest cells per stratum)."""
    at, a_y, lost, sums = _year_start(model, year)
    return a_y, lost, sums, _zone_loss(model, a_y, {z: model._zone_hazard(year, *at[z]) for z in model._zones})


def _zone_loss(model: MatchedControlBaseline, a_y: float, hazards: Mapping[str, tuple]) -> dict:
    """Per zone, from the stratum and relative hazard of its forest cells in a year of level ``a_y``: the
    expected loss and the forest cells per stratum."""
    n_strata = len(model._land.strata_names) + 1
    zones = {}
    for z, (strata, hazard) in hazards.items():
        p = cloglog.probability(model.k_[z] * a_y * hazard)
        zones[z] = (np.bincount(strata, weights=p, minlength=n_strata),
                    np.bincount(strata, minlength=n_strata).astype(np.float64))
    return zones


def _block_relative_variance(lost: np.ndarray, domain: np.ndarray, cell_size_m: float,
                             block_m: float = 1000.0) -> float:
    """Relative variance of the total of ``lost`` over ``domain`` from its 1 km blocks taken as independent:
    n_b × var(blocks' loss) / total² (0 where nothing was lost)."""
    rows, cols = np.nonzero(domain)
    block = square_index(rows, cols, domain.shape[1], max(1, int(round(block_m / cell_size_m))))
    per_block = np.bincount(block, weights=lost[rows, cols].astype(np.float64))
    total = per_block.sum()
    if total <= 0:
        return 0.0
    return float(per_block.size * per_block.var() / total ** 2)
