"""``[carbon]``: strata, stocks, emission factors, leakage, uncertainty and the buffer."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from icam.carbon.buffer import NonPermanenceRisk
from icam.pipeline.config.base import _Section

CarbonPool = Literal["above_ground", "below_ground", "dead_wood", "litter", "soil_organic_carbon"]
StockPairs = Annotated[dict[CarbonPool, tuple[Annotated[float, Field(ge=0)], Annotated[float, Field(ge=0)]]],
                       Field(min_length=1)]


class CarbonStratum(_Section):
    """One forest stratum of the carbon accounting: where it is and where its stock comes from.

    Its stock comes from the tree inventory's plots of this stratum when there are any, else from
    ``stock`` (entered), else from ``ipcc_default_agb_mg_ha`` (flagged "IPCC default" in the report).
    """

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_ .-]*$",
                      description="Stratum name, as in the inventory's stratum column.")
    range: tuple[float, float] | None = Field(None, description="Values of strata_raster in this stratum, [low, "
                                              "high) (e.g. elevation in m); required with strata_raster.")
    root_to_shoot: float = Field(0.37, ge=0, le=2, description="Below- to above-ground biomass ratio (IPCC 2006 "
                                 "Vol. 4 Table 4.4: 0.37 tropical rain forest, 0.27 tropical mountain systems).")
    stock: StockPairs | None = Field(None, description="Entered carbon stock per pool: pool = [stock, standard "
                                     "error], tC/ha; used when the stratum has no inventory plots.")
    ipcc_default_agb_mg_ha: tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(ge=0)]] | None = Field(
        None, description="IPCC default above-ground biomass [value, standard error] in t d.m./ha, used when the "
        "stratum has neither plots nor an entered stock.")
    ipcc_reference: str = Field("", description="The table the IPCC default comes from, shown in the report.")

    @model_validator(mode="after")
    def _range_ordered(self):
        if self.range is not None and not self.range[0] < self.range[1]:
            raise ValueError(f"range must be [low, high) with low < high, got {list(self.range)}")
        return self


class CarbonSection(_Section):
    """Carbon accounting per monitoring period ([periods] monitoring), credits issued into the
    project's ledger (VM0015 v1.1 Part 3; docs/methods.md "Accounting in the pipeline")."""

    project_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                            description="Project identifier in the credit ledger and its serial numbers, "
                            "e.g. 'VCS944' (letters, digits, '_', '.', '-').")
    methodology: Literal["VM0015", "VM0048", "dynamic"] = Field(
        "VM0048", description="The baseline's methodology, one per run: 'VM0015' (VM0015 v1.1's year-by-year "
        "allocation of the projected quantity to the riskiest forest, which front-loads the zones holding the "
        "riskiest pixels), 'VM0048' (the VT0007 density map, ha/yr per pixel, summed per stratum) or 'dynamic' "
        "(each year's baseline from the loss that year in matched controls outside the project area and its "
        "leakage belt, scaled by the zone's own historical loss; docs/methods.md).")
    baseline_multiplier: float = Field(1.0, gt=0, le=100, description="A factor on the baseline deforestation "
                                       "of every zone, stratum and year: a test of the counterfactual checks (2.0 "
                                       "inflates the baseline, which they must flag), never for a project's "
                                       "claims; the report flags any value but 1.")
    forest: StockPairs | None = Field(None, description="Carbon stock of a single forest stratum per pool: pool = "
                                      "[stock, standard error], tC/ha (pools: above_ground, below_ground, dead_wood, "
                                      "litter, soil_organic_carbon); give this or [[carbon.strata]].")
    strata_raster: Path | None = Field(None, description="Raster whose values place forest pixels in strata (e.g. "
                                       "the elevation model, m); needed with more than one stratum.")
    strata: list[CarbonStratum] = Field(default_factory=list, description="Forest strata ([[carbon.strata]]).")
    inventory: Path | None = Field(None, description="Tree inventory CSV: plot, stratum, plot_area_ha, d_cm, and "
                                   "optionally family, genus, species, h_m, wd_g_cm3.")
    wood_density: Path | None = Field(None, description="Wood-density table in the Global Wood Density Database's "
                                      "format, for trees without a measured wood density.")
    wood_density_region: str | None = Field(None, description="Region of the wood-density table to use (e.g. "
                                            "'South America (tropical)'); all regions when empty.")
    carbon_fraction: float = Field(0.47, gt=0, le=1, description="Carbon fraction of dry biomass (IPCC 2006).")
    inventory_draws: int = Field(1000, ge=100, le=100_000, description="Monte Carlo draws of the plots' biomass.")
    post_deforestation_class: str = Field("coffee agroforestry", min_length=1,
                                          description="Name of the land use that replaces the forest.")
    post_deforestation: StockPairs = Field(description="Long-term (20-year) average carbon stock of the "
                                           "post-deforestation class per pool: pool = [stock, standard error], tC/ha.")
    pools: list[CarbonPool] = Field(default_factory=lambda: ["above_ground", "below_ground"], min_length=1,
                                    description="Pools counted in the emission factor; each needs a stock in the "
                                    "strata and in post_deforestation (inventory strata give above_ground and "
                                    "below_ground).")
    market_leakage_factor: float = Field(0.0, ge=0, le=1, description="Market-leakage share of the gross "
                                         "reductions (0 for VM0015 unplanned deforestation).")
    uncertainty_rule: Literal["vcs", "excess_over_10", "art_trees_2_0"] = Field(
        "vcs", description="Uncertainty deduction: 'vcs' (U/1.6449 × 0.4307 of the 90 % half-width U, VCS "
        "Methodology Requirements v4.4 §2.4 as quoted by secondary sources), 'excess_over_10' (the excess over "
        "10 %), 'art_trees_2_0' (ART TREES v2.0 eq. 11).")
    buffer_pct: float | None = Field(None, ge=0, le=100, description="Non-permanence buffer, % of the net "
                                     "reductions after the uncertainty deduction, as the tool's result; give this or "
                                     "[carbon.non_permanence_risk].")
    non_permanence_risk: NonPermanenceRisk | None = Field(
        None, description="The AFOLU Non-Permanence Risk Tool v4.2 assessment (internal, external, natural), "
        "scored by icam into the buffer %.")
    ex_ante_effectiveness: float | None = Field(None, ge=0, le=1, description="Share of the baseline "
                                                "deforestation the project expects to avoid, for the ex-ante table of "
                                                "the crediting period (no ex-ante table when empty).")
    uncertainty_draws: int = Field(2000, ge=100, le=1_000_000, description="Monte Carlo draws for the uncertainty "
                                   "of the net reductions.")
    seed: int = Field(42, description="Random seed of the Monte Carlos.")

    @model_validator(mode="after")
    def _consistent(self):
        if (self.forest is None) == (not self.strata):
            raise ValueError("give either forest (one stratum) or [[carbon.strata]], not both or neither")
        if (self.buffer_pct is None) == (self.non_permanence_risk is None):
            raise ValueError("give either buffer_pct or [carbon.non_permanence_risk], not both or neither")
        names = [s.name for s in self.strata]
        if len(set(names)) != len(names):
            raise ValueError(f"two strata share a name in {names}")
        if len(self.strata) > 1 and self.strata_raster is None:
            raise ValueError("several strata need strata_raster (the raster whose values place pixels in strata)")
        if self.strata_raster is not None and any(s.range is None for s in self.strata):
            raise ValueError("with strata_raster every stratum needs its range [low, high)")
        for s in self.strata:
            if s.stock is None and s.ipcc_default_agb_mg_ha is None and self.inventory is None:
                raise ValueError(f"stratum '{s.name}' has no stock source: give an inventory, its stock or its "
                                 "ipcc_default_agb_mg_ha")
        missing = [p for p in self.pools if p not in self.post_deforestation]
        if missing:
            raise ValueError(f"post_deforestation has no stock for the counted pool(s) {', '.join(missing)}")
        for name, stock in [("forest", self.forest)] + [(f"strata {s.name}", s.stock) for s in self.strata]:
            missing = [p for p in self.pools if stock is not None and p not in stock]
            if missing:
                raise ValueError(f"{name} has no stock for the counted pool(s) {', '.join(missing)}")
        return self


