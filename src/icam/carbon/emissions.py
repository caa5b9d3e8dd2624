"""Emission factors of deforestation: forest stock − post-deforestation stock, in tCO2e/ha.

An emission factor belongs to one transition, a forest class (stratum) becoming a
post-deforestation land use (coffee agroforestry, pasture, crops):

    EF = Σ_{p ∈ P} (C_forest,p − C_post,p) × 44/12                  [tCO2e/ha]
    SE(EF) = √( Σ_{p ∈ P} (SE_forest,p² + SE_post,p²) ) × 44/12     [tCO2e/ha]

with C the carbon stock of pool p in tC/ha, P the pools included, and the standard errors of
the pools and of the two classes taken as independent (first-order error propagation of a
sum). Sources:

- VM0015 v1.1 (Avoided Unplanned Deforestation), Part 2, step 6 ("Estimation of baseline
  carbon stock changes"): the baseline carbon stock change of a deforested hectare is the
  forest class's carbon stock minus that of the post-deforestation class, where the
  post-deforestation class's stock is its long-term (20-year) average, over the carbon pools
  the project selected (the methodology's pool table: above-ground, below-ground, dead wood,
  harvested wood products, litter, soil organic carbon; harvested wood products are not
  modelled here).
- IPCC 2006 Guidelines, Vol. 4 (AFOLU): carbon is converted to CO2 by the ratio of molecular
  weights 44/12.

Pools. A pool left out counts 0 on both sides. VM0015 and the VCS rules let a project exclude
a pool only where excluding it is conservative, i.e. does not increase the net emission
reductions. In a baseline of avoided deforestation, a pool whose post-deforestation stock
exceeds its forest stock would *lower* the emission factor if included, so leaving it out is not
conservative: where both stocks of an excluded pool are given and the post-deforestation stock
is the larger, :func:`emission_factor` refuses the exclusion. An included pool may have a
post-deforestation stock above its forest stock (e.g. litter under coffee agroforestry): no
rule we know of refuses it, so its contribution is negative and it is reported in
``negative_pools``.

Units: stocks and their standard errors in tC/ha (tonnes of carbon, not of dry matter or CO2);
emission factors in tCO2e/ha. See docs/methods.md, "Emission factors and the non-permanence
buffer".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from icam.core.errors import InputError

CO2_PER_C = 44.0 / 12.0  # IPCC 2006 Vol. 4: tCO2 per tC, the ratio of molecular weights

POOLS = ("above_ground", "below_ground", "dead_wood", "litter", "soil_organic_carbon")
POOL_LABELS = {
    "above_ground": "above-ground biomass",
    "below_ground": "below-ground biomass",
    "dead_wood": "dead wood",
    "litter": "litter",
    "soil_organic_carbon": "soil organic carbon",
}
DEFAULT_POOLS = ("above_ground", "below_ground")  # the tree biomass pools every REDD+ project counts


def _check_pool_names(names: Iterable[str], where: str) -> None:
    unknown = sorted(set(names) - set(POOLS))
    if unknown:
        raise InputError(f"unknown carbon pool(s) {', '.join(map(repr, unknown))} in {where}",
                         f"use the pool names {', '.join(POOLS)}")


def number(value, what: str, *, minimum: float | None = None, maximum: float | None = None) -> float:
    """``value`` as a finite float within [minimum, maximum]; else an InputError naming ``what``."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise InputError(f"{what} must be finite, got {x}")
    if minimum is not None and x < minimum:
        raise InputError(f"{what} must be ≥ {minimum:g}, got {x:g}")
    if maximum is not None and x > maximum:
        raise InputError(f"{what} must be ≤ {maximum:g}, got {x:g}")
    return x


@dataclass(frozen=True)
class CarbonStock:
    """The carbon stock of one land-use class, per pool, in tC/ha, with its standard errors.

    ``stock_tc_ha`` and ``se_tc_ha`` map pool names (:data:`POOLS`) to values; every pool with
    a stock needs a standard error (0 for a value taken as exact, e.g. a default). For a
    post-deforestation class, the stock is the long-term (20-year) average of VM0015 v1.1
    step 6, not the stock right after clearing.
    """

    name: str
    stock_tc_ha: Mapping[str, float]
    se_tc_ha: Mapping[str, float]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InputError(f"a land-use class needs a non-empty name, got {self.name!r}")
        where = f"the carbon stock of '{self.name}'"
        _check_pool_names(self.stock_tc_ha, where)
        _check_pool_names(self.se_tc_ha, f"the standard errors of '{self.name}'")
        missing = [p for p in POOLS if p in self.stock_tc_ha and p not in self.se_tc_ha]
        if missing:
            raise InputError(f"'{self.name}' has no standard error for {', '.join(missing)}",
                             "give one per pool (0 where the stock is taken as exact)")
        orphan = [p for p in POOLS if p in self.se_tc_ha and p not in self.stock_tc_ha]
        if orphan:
            raise InputError(f"'{self.name}' has a standard error but no stock for {', '.join(orphan)}")
        stocks, ses = {}, {}
        for p in POOLS:
            if p not in self.stock_tc_ha:
                continue
            s = number(self.stock_tc_ha[p], f"the {POOL_LABELS[p]} stock of '{self.name}'")
            e = number(self.se_tc_ha[p], f"the {POOL_LABELS[p]} standard error of '{self.name}'")
            if s < 0:
                raise InputError(f"the {POOL_LABELS[p]} stock of '{self.name}' is negative ({s} tC/ha)",
                                 "carbon stocks are ≥ 0 tC/ha")
            if e < 0:
                raise InputError(f"the {POOL_LABELS[p]} standard error of '{self.name}' is negative ({e} tC/ha)")
            stocks[p], ses[p] = s, e
        object.__setattr__(self, "stock_tc_ha", stocks)
        object.__setattr__(self, "se_tc_ha", ses)

    @classmethod
    def from_pairs(cls, name: str, pools: Mapping[str, tuple[float, float]]) -> CarbonStock:
        """``CarbonStock.from_pairs("coffee", {"above_ground": (30, 4), ...})``: (stock, SE) in tC/ha."""
        pairs = {}
        for pool, pair in pools.items():
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise InputError(f"the {pool} of '{name}' must be a (stock, standard error) pair in tC/ha, "
                                 f"got {pair!r}", "a missing standard error is not allowed; give 0 for an exact value")
            pairs[pool] = pair
        return cls(name, {p: v[0] for p, v in pairs.items()}, {p: v[1] for p, v in pairs.items()})

    def to_dict(self) -> dict:
        return {"name": self.name, "stock_tc_ha": dict(self.stock_tc_ha), "se_tc_ha": dict(self.se_tc_ha)}


@dataclass(frozen=True)
class EmissionFactor:
    """The emission factor of one transition (forest class → post-deforestation class).

    ``ef_tco2e_ha`` and ``se_tco2e_ha`` in tCO2e/ha; ``by_pool_tco2e_ha`` the contribution of
    each included pool, (C_forest − C_post) × 44/12; ``negative_pools`` the included pools
    whose post-deforestation stock exceeds the forest stock (negative contributions).
    """

    forest_class: str
    post_class: str
    pools: tuple[str, ...]
    ef_tco2e_ha: float
    se_tco2e_ha: float
    by_pool_tco2e_ha: dict[str, float] = field(default_factory=dict)
    negative_pools: tuple[str, ...] = ()
    excluded_pools: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {
            "forest_class": self.forest_class,
            "post_class": self.post_class,
            "pools": list(self.pools),
            "excluded_pools": list(self.excluded_pools),
            "ef_tco2e_ha": self.ef_tco2e_ha,
            "se_tco2e_ha": self.se_tco2e_ha,
            "by_pool_tco2e_ha": dict(self.by_pool_tco2e_ha),
            "negative_pools": list(self.negative_pools),
        }


def _normalise_pools(pools: Sequence[str]) -> tuple[str, ...]:
    if isinstance(pools, str):
        pools = (pools,)
    pools = tuple(pools)
    if not pools:
        raise InputError("no carbon pool is included", f"include at least one of {', '.join(POOLS)}")
    _check_pool_names(pools, "the pools to include")
    if len(set(pools)) != len(pools):
        raise InputError(f"a carbon pool is listed twice in {list(pools)}")
    return tuple(p for p in POOLS if p in pools)  # the canonical order, whatever the order given


def emission_factor(forest: CarbonStock, post: CarbonStock, pools: Sequence[str] = DEFAULT_POOLS) -> EmissionFactor:
    """Emission factor of deforesting ``forest`` into ``post`` over ``pools``, in tCO2e/ha.

    EF = Σ_p (C_forest,p − C_post,p) × 44/12 and SE = √Σ_p (SE_forest,p² + SE_post,p²) × 44/12
    (VM0015 v1.1 Part 2 step 6; IPCC 2006 Vol. 4 for 44/12). Both classes must give a stock
    and a standard error for every included pool. An excluded pool whose given stocks show a
    post-deforestation stock above the forest stock is refused: excluding it is not
    conservative.
    """
    included = _normalise_pools(pools)
    for cls, role in ((forest, "forest class"), (post, "post-deforestation class")):
        missing = [p for p in included if p not in cls.stock_tc_ha]
        if missing:
            raise InputError(f"the {role} '{cls.name}' has no stock for the included pool(s) {', '.join(missing)}",
                             "give its stock and standard error in tC/ha, or exclude the pool")
    excluded = tuple(p for p in POOLS if p not in included)
    for p in excluded:
        if p in forest.stock_tc_ha and p in post.stock_tc_ha and post.stock_tc_ha[p] > forest.stock_tc_ha[p]:
            raise InputError(
                f"excluding {POOL_LABELS[p]} from '{forest.name}' → '{post.name}' is not conservative: its "
                f"post-deforestation stock ({post.stock_tc_ha[p]:g} tC/ha) exceeds the forest stock "
                f"({forest.stock_tc_ha[p]:g} tC/ha), so leaving it out raises the emission factor",
                "VM0015 and the VCS rules allow excluding a pool only where that is conservative; include it")
    by_pool = {p: (forest.stock_tc_ha[p] - post.stock_tc_ha[p]) * CO2_PER_C for p in included}
    ef = (sum(forest.stock_tc_ha[p] for p in included) - sum(post.stock_tc_ha[p] for p in included)) * CO2_PER_C
    var = sum(forest.se_tc_ha[p] ** 2 + post.se_tc_ha[p] ** 2 for p in included)
    return EmissionFactor(
        forest_class=forest.name,
        post_class=post.name,
        pools=included,
        ef_tco2e_ha=ef,
        se_tco2e_ha=math.sqrt(var) * CO2_PER_C,
        by_pool_tco2e_ha=by_pool,
        negative_pools=tuple(p for p in included if post.stock_tc_ha[p] > forest.stock_tc_ha[p]),
        excluded_pools=excluded,
    )


@dataclass(frozen=True)
class EmissionFactorTable:
    """Emission factors of several transitions, one row each, in the order computed."""

    factors: tuple[EmissionFactor, ...]

    def get(self, forest_class: str, post_class: str) -> EmissionFactor:
        for f in self.factors:
            if f.forest_class == forest_class and f.post_class == post_class:
                return f
        raise InputError(f"no emission factor for the transition '{forest_class}' → '{post_class}'",
                         "add the transition to the emission-factor table")

    def to_rows(self) -> list[dict]:
        """Flat rows (one per transition) for a CSV: classes, EF, SE, pools joined by '+'."""
        return [{"forest_class": f.forest_class, "post_class": f.post_class,
                 "ef_tco2e_ha": f.ef_tco2e_ha, "se_tco2e_ha": f.se_tco2e_ha,
                 "pools": "+".join(f.pools), "negative_pools": "+".join(f.negative_pools)}
                for f in self.factors]

    def to_dict(self) -> dict:
        return {"co2_per_c": CO2_PER_C, "factors": [f.to_dict() for f in self.factors]}


def _by_name(classes: Iterable[CarbonStock], role: str) -> dict[str, CarbonStock]:
    out: dict[str, CarbonStock] = {}
    for c in classes:
        if not isinstance(c, CarbonStock):
            raise InputError(f"each {role} must be a CarbonStock, got {type(c).__name__}")
        if c.name in out:
            raise InputError(f"two {role}es are named '{c.name}'")
        out[c.name] = c
    if not out:
        raise InputError(f"no {role} given")
    return out


def emission_factor_table(forest: Iterable[CarbonStock], post_deforestation: Iterable[CarbonStock],
                          pools: Sequence[str] = DEFAULT_POOLS,
                          transitions: Iterable[tuple[str, str]] | None = None) -> EmissionFactorTable:
    """Emission factors for ``transitions`` ((forest class, post class) name pairs), or for
    every forest class × post-deforestation class when ``transitions`` is None."""
    forests = _by_name(forest, "forest class")
    posts = _by_name(post_deforestation, "post-deforestation class")
    if transitions is None:
        pairs = [(f, p) for f in forests for p in posts]
    else:
        pairs = [tuple(t) for t in transitions]
        if not pairs:
            raise InputError("the list of transitions is empty")
        seen = set()
        for pair in pairs:
            if len(pair) != 2:
                raise InputError(f"a transition is a (forest class, post-deforestation class) pair, got {pair!r}")
            if pair in seen:
                raise InputError(f"the transition '{pair[0]}' → '{pair[1]}' is listed twice")
            seen.add(pair)
            if pair[0] not in forests:
                raise InputError(f"unknown forest class '{pair[0]}'", f"known: {', '.join(forests)}")
            if pair[1] not in posts:
                raise InputError(f"unknown post-deforestation class '{pair[1]}'", f"known: {', '.join(posts)}")
    return EmissionFactorTable(tuple(emission_factor(forests[f], posts[p], pools) for f, p in pairs))
