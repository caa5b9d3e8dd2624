"""The non-permanence buffer: Verra's AFOLU Non-Permanence Risk Tool (NPRT) scoring.

A VCS AFOLU project withholds a share of its credits in the AFOLU pooled buffer account. The
share comes from the tool's risk assessment, one point of overall risk rating being one per
cent:

    internal = PM + FV + OC + PL        (project management, financial viability,
                                         opportunity cost, project longevity)
    external = LT + CE + PR             (land and resource tenure, community / stakeholder
                                         engagement, political risk)
    natural  = Σ_hazards LS_h × M_h  (+ the tool's climate-change points, v4.2)
    overall  = internal + external + natural
    buffer % = max(minimum rating, overall)          if the project passes, else none

with LS the historical natural-risk score read from the significance × likelihood table and M
the mitigation factor (1, 0.5 or 0.25). A project fails the assessment, and cannot be verified,
when it fails one of the tool's criteria (e.g. no adaptive management plan), when a natural
hazard falls in a FAIL cell of the table, or when its overall rating exceeds the fail threshold.

Version. :data:`TOOL_VERSION` is "AFOLU Non-Permanence Risk Tool v4.2": Verra released v4.1 on
30 August 2023 and v4.2 on 12 October 2023, and made the new version mandatory for any
registration or verification request from 1 January 2024 (verra.org, "Verra releases updated
AFOLU Non-Permanence Risk Tool" and the program notice on its grace period; v4.0 stays usable
only for projects that requested registration before 29 August 2023 and verify vintages up to
2022). The tool's PDF itself could not be read from here, so what is built in comes from
secondary sources, each named at its constant below; the rest is a parameter of
:class:`ToolRules`, never an invented number. In short:

- verified from secondary sources: the LS table (v4.2 Table 10) and the mitigation factors
  (greentryst.com VM0042 course, lesson 9.2, "AFOLU Non-Permanence Risk Tool v4.2, Sections 2.4
  and 2.5"; three of its cells agree with a published v4.2 risk report); the failure criteria
  of project management Q1, project longevity Q3–Q4, land tenure Q1–Q2 and the longevity score
  with a legal agreement, 25 − longevity/4 (the v4.2 questions as transcribed in a published
  risk report, github.com/mihirobendre/ecobliss-docs NPRT.md); that v4.1 raised the minimum
  withholding above v4.0's 10 % and the project longevity to 40 years (Verra's release note);
- from the project's domain notes, citing secondary sources on v4.2 section 2.5: minimum
  overall rating 12, failure above 60;
- not verified, hence parameters: each risk item's score and each mitigation's deduction
  (entered per item, checked only for sign), the longevity formula without a legal agreement,
  how the v4.2 climate-change step enters the natural score (entered as points), whether
  factor or category totals may fall below zero (default: they may not, which can only raise
  the buffer), rounding (default: none), and whether a category has its own ceiling.

See docs/methods.md, "Emission factors and the non-permanence buffer".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from icam.core.errors import InputError

TOOL_VERSION = "AFOLU Non-Permanence Risk Tool v4.2"

Significance = Literal["catastrophic", "devastating", "major", "minor", "insignificant", "not_applicable"]
Likelihood = Literal["more_than_once_per_10y", "once_per_10_to_25y", "once_per_25_to_50y",
                     "once_per_50_to_100y", "once_per_100y_or_less"]
SIGNIFICANCES: tuple[str, ...] = Significance.__args__
LIKELIHOODS: tuple[str, ...] = Likelihood.__args__

FAIL = None  # a cell of the LS table that fails the project

# Historic natural risk scores LS, v4.2 Table 10, rows = significance (share of carbon stocks
# lost per event: catastrophic ≥ 70 %, devastating 50 to < 70 %, major 25 to < 50 %, minor 5 to
# < 25 %, insignificant < 5 % or transient = full recovery within 10 years), columns = historical
# likelihood (more than once every 10 years, once every 10 to < 25, 25 to < 50, 50 to < 100
# years, once per 100 years or less). Source: greentryst.com/courses/vm0042/9_2 ("AFOLU
# Non-Permanence Risk Tool v4.2, Sections 2.4 and 2.5"); the cells (minor, > once/10 yr) = 5,
# (minor, 25–50 yr) = 3 and (insignificant, 25–50 yr) = 2 agree with the v4.2 risk report in
# github.com/mihirobendre/ecobliss-docs (NPRT.md).
LS_TABLE_V4_2: Mapping[str, Mapping[str, float | None]] = MappingProxyType({
    significance: MappingProxyType(dict(zip(LIKELIHOODS, row))) for significance, row in (
        ("catastrophic", (FAIL, 30, 20, 5, 4)),
        ("devastating", (30, 20, 5, 4, 3)),
        ("major", (20, 5, 4, 3, 2)),
        ("minor", (5, 4, 3, 2, 1)),
        ("insignificant", (4, 3, 2, 1, 1)),
        ("not_applicable", (0, 0, 0, 0, 0)),
    )
})
# M: 1 without mitigation, 0.5 with one of prevention or containment, 0.25 with both (same source).
MITIGATION_FACTORS_V4_2 = (1.0, 0.5, 0.25)

INTERNAL_FACTORS = ("project_management", "financial_viability", "opportunity_cost", "project_longevity")
EXTERNAL_FACTORS = ("land_tenure", "community_engagement", "political")
CATEGORIES = ("internal", "external", "natural")


@dataclass(frozen=True)
class ToolRules:
    """The version-dependent numbers of the tool; :data:`NPRT_V4_2` holds the built-in ones.

    minimum_rating: the lowest overall rating (= buffer %) a passing project withholds.
    fail_above: a project whose overall rating exceeds it fails (None: no such rule).
    category_fail_above: optional per-category thresholds ({"internal": x, ...}); a category
      above its threshold fails the project. None by default: domain notes mention ceilings of
      35 (internal), 20 (external) and 35 (natural) for v4.2 whose role (maximum or failure)
      is unconfirmed.
    floor_factors_at_zero / floor_categories_at_zero: mitigations cannot push a factor /
      a category total below 0 (unverified for v4.2; True can only raise the buffer).
    rounding: how the overall rating becomes a percentage: "none", "up" (ceil) or "nearest".
    ls_table, mitigation_factors: the natural-risk table and the allowed M values.
    longevity_min_years / longevity_min_years_before_2024: shorter longevities fail (v4.2 Q3:
      40 years for registration requested on or after 1 January 2024, else 30).
    longevity_with_agreement / longevity_without_agreement: (a, b) in score = max(0, a − L/b),
      L the project longevity in years; v4.2 with a legal agreement (25, 4); without: unverified,
      None (the score is then entered as ``project_longevity.score``).
    """

    version: str = TOOL_VERSION
    minimum_rating: float = 12.0
    fail_above: float | None = 60.0
    category_fail_above: Mapping[str, float] | None = None
    floor_factors_at_zero: bool = True
    floor_categories_at_zero: bool = True
    rounding: Literal["none", "up", "nearest"] = "none"
    ls_table: Mapping[str, Mapping[str, float | None]] = field(default_factory=lambda: LS_TABLE_V4_2)
    mitigation_factors: tuple[float, ...] = MITIGATION_FACTORS_V4_2
    longevity_min_years: float = 40.0
    longevity_min_years_before_2024: float = 30.0
    longevity_with_agreement: tuple[float, float] | None = (25.0, 4.0)
    longevity_without_agreement: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if not self.version.strip():
            raise InputError("the tool version of the rules is empty")
        if not 0 <= self.minimum_rating <= 100:
            raise InputError(f"minimum_rating must be within [0, 100], got {self.minimum_rating}")
        if self.fail_above is not None and not self.minimum_rating <= self.fail_above <= 100:
            raise InputError(f"fail_above must be within [minimum_rating, 100], got {self.fail_above}")
        if self.rounding not in ("none", "up", "nearest"):
            raise InputError(f"rounding must be 'none', 'up' or 'nearest', got {self.rounding!r}")
        if self.category_fail_above is not None:
            unknown = set(self.category_fail_above) - set(CATEGORIES)
            if unknown:
                raise InputError(f"unknown risk categories {sorted(unknown)} in category_fail_above",
                                 f"use {', '.join(CATEGORIES)}")
        for s in SIGNIFICANCES:
            for lk in LIKELIHOODS:
                try:
                    v = self.ls_table[s][lk]
                except KeyError:
                    raise InputError(f"the LS table has no cell ({s}, {lk})") from None
                if v is not None and not (math.isfinite(v) and v >= 0):
                    raise InputError(f"the LS table cell ({s}, {lk}) must be ≥ 0 or FAIL (None), got {v}")
        if not self.mitigation_factors or any(not 0 < m <= 1 for m in self.mitigation_factors):
            raise InputError(f"mitigation factors must lie in (0, 1], got {self.mitigation_factors}")
        for name in ("longevity_with_agreement", "longevity_without_agreement"):
            ab = getattr(self, name)
            if ab is not None and (len(ab) != 2 or ab[1] <= 0):
                raise InputError(f"{name} must be (a, b) with b > 0 in score = a − years/b, got {ab}")


NPRT_V4_2 = ToolRules()


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_items(items: dict[str, float], sign: int, what: str) -> dict[str, float]:
    for name, v in items.items():
        if not name.strip():
            raise ValueError(f"a {what} needs a name")
        if not math.isfinite(v):
            raise ValueError(f"the {what} '{name}' must be finite, got {v}")
        if sign > 0 and v < 0:
            raise ValueError(f"the {what} '{name}' is {v}: risk scores are ≥ 0 (mitigations go under 'mitigations')")
        if sign < 0 and v > 0:
            raise ValueError(f"the mitigation '{name}' is {v}: mitigations deduct points, write them ≤ 0")
    return items


class RiskFactor(_Model):
    """One internal or external risk factor, as the tool's table for it is filled in.

    ``risks``: the risk items that apply, by name (e.g. the tool's letter or a short label), with
    the score the tool gives them (≥ 0). ``mitigations``: the mitigations that apply, with their
    deduction (≤ 0). ``fails``: criteria of this factor the project fails, in words; any entry
    fails the assessment. The factor's score is Σ risks + Σ mitigations.
    """

    risks: dict[str, float] = Field(default_factory=dict, description="Risk items that apply → score (≥ 0).")
    mitigations: dict[str, float] = Field(default_factory=dict,
                                          description="Mitigations that apply → deduction (≤ 0).")
    fails: list[str] = Field(default_factory=list, description="Criteria of this factor the project fails (in words).")

    @field_validator("risks")
    @classmethod
    def _risks_nonnegative(cls, v):
        return _check_items(v, +1, "risk item")

    @field_validator("mitigations")
    @classmethod
    def _mitigations_nonpositive(cls, v):
        return _check_items(v, -1, "mitigation")

    @field_validator("fails")
    @classmethod
    def _fails_named(cls, v):
        if any(not s.strip() for s in v):
            raise ValueError("each failed criterion needs a description")
        return v

    def failures(self) -> list[str]:
        return list(self.fails)

    def raw_score(self, rules: ToolRules) -> float:
        return sum(self.risks.values()) + sum(self.mitigations.values())


class ProjectManagement(RiskFactor):
    """Project management; v4.2 Q1: without an adaptive management plan that includes a
    monitoring plan the project fails."""

    adaptive_management_plan: bool = Field(
        description="An adaptive management plan with a monitoring plan is in place.")

    def failures(self) -> list[str]:
        extra = [] if self.adaptive_management_plan else [
            "no adaptive management plan including a monitoring plan (project management Q1)"]
        return extra + list(self.fails)


class ProjectLongevity(_Model):
    """Project longevity (v4.2): the years the project commits to, and its agreements."""

    longevity_years: float = Field(gt=0, description="Project longevity, years from the project start.")
    legal_agreement: bool = Field(description="A legal agreement or requirement to continue the management practice.")
    agreement_100_years: bool = Field(
        False, description="A legally binding agreement covers ≥ 100 years from the start (score 0).")
    plan_for_entire_longevity: bool = Field(
        description="A management, financial and monitoring plan covers the whole longevity.")
    registration_from_2024: bool = Field(
        True, description="Registration requested on or after 1 January 2024 (40-year minimum, else 30).")
    score: float | None = Field(
        None, ge=0, description="The tool's score, where icam has no verified formula (no legal agreement).")

    def failures(self, rules: ToolRules) -> list[str]:
        if self.agreement_100_years:
            return []  # Q2: a 100-year agreement scores 0 and the tool skips Q3-Q4
        out = []
        minimum = rules.longevity_min_years if self.registration_from_2024 else rules.longevity_min_years_before_2024
        if self.longevity_years < minimum:
            out.append(f"project longevity {self.longevity_years:g} years is below the {minimum:g}-year minimum "
                       "(project longevity Q3)")
        if not self.plan_for_entire_longevity:
            out.append("no management, financial and monitoring plan for the entire project longevity "
                       "(project longevity Q4)")
        return out

    def raw_score(self, rules: ToolRules) -> float:
        if self.agreement_100_years:
            computed: float | None = 0.0
        else:
            ab = rules.longevity_with_agreement if self.legal_agreement else rules.longevity_without_agreement
            computed = None if ab is None else max(0.0, ab[0] - self.longevity_years / ab[1])
        if computed is None:
            if self.score is None:
                raise InputError(
                    f"{rules.version}: icam has no verified formula for the project longevity score "
                    f"{'with' if self.legal_agreement else 'without'} a legal agreement",
                    "enter the tool's score as project_longevity.score, or give the formula in ToolRules")
            return float(self.score)
        if self.score is not None and not math.isclose(self.score, computed, abs_tol=1e-9):
            raise InputError(f"project_longevity.score = {self.score:g} disagrees with the tool's formula "
                             f"({computed:g} for {self.longevity_years:g} years)", "remove the score or correct it")
        return computed


class LandTenure(RiskFactor):
    """Land and resource tenure; v4.2 Q1–Q2: the project fails without due process to discover
    disputes over ownership, access or use rights, or without binding legal agreements securing
    the right to operate with every holder of verified ownership or use rights."""

    due_process_on_disputes: bool = Field(
        description="Due process was undertaken to discover disputes over land and rights.")
    binding_agreements_with_rights_holders: bool = Field(
        description="Binding legal agreements secure the right to operate over the whole area with all rights holders.")

    def failures(self) -> list[str]:
        out = []
        if not self.due_process_on_disputes:
            out.append("no due process to discover disputes over ownership, access or use rights (land tenure Q1)")
        if not self.binding_agreements_with_rights_holders:
            out.append("no binding legal agreement with every holder of verified ownership or use rights "
                       "(land tenure Q2)")
        return out + list(self.fails)


class InternalRisk(_Model):
    """The tool's internal risk factors."""

    project_management: ProjectManagement
    financial_viability: RiskFactor
    opportunity_cost: RiskFactor
    project_longevity: ProjectLongevity


class ExternalRisk(_Model):
    """The tool's external risk factors."""

    land_tenure: LandTenure
    community_engagement: RiskFactor = Field(description="Community (v4.2: stakeholder) engagement.")
    political: RiskFactor


class NaturalHazard(_Model):
    """One natural hazard: its significance (share of stocks lost per event), historical
    likelihood, and mitigation factor M (1 none, 0.5 prevention or containment, 0.25 both)."""

    significance: Significance
    likelihood: Likelihood
    mitigation: float = 1.0


class NaturalRisk(_Model):
    """The tool's natural hazards (likelihood × significance × mitigation) and any climate-change adjustment."""

    hazards: dict[str, NaturalHazard] = Field(
        description="Hazards by name: fire, pest_and_disease, extreme_weather, geological, sea_level_rise, ...")
    climate_change_adjustment: float = Field(
        0.0, ge=0, description="Points the tool's v4.2 climate-change step adds to the natural risk (its formula is "
        "not built into icam: enter the tool's figure).")

    @field_validator("hazards")
    @classmethod
    def _named(cls, v):
        if any(not k.strip() for k in v):
            raise ValueError("each natural hazard needs a name")
        return v


class NonPermanenceRisk(_Model):
    """The risk factors of one assessment: the ``[buffer]`` table of a project's configuration."""

    internal: InternalRisk
    external: ExternalRisk
    natural: NaturalRisk


@dataclass(frozen=True)
class BufferResult:
    """An assessment's outcome. ``scores`` by factor ("internal.project_management", ...,
    "natural.fire"), category totals, the overall rating, the buffer in per cent (None when the
    project fails), whether it passes, why it fails (``reasons``), other remarks (``notes``),
    and the tool version applied."""

    tool_version: str
    scores: dict[str, float]
    internal: float
    external: float
    natural: float
    total: float
    buffer_pct: float | None
    passes: bool
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {
            "tool_version": self.tool_version,
            "scores": dict(self.scores),
            "internal": self.internal,
            "external": self.external,
            "natural": self.natural,
            "total": self.total,
            "buffer_pct": self.buffer_pct,
            "passes": self.passes,
            "reasons": list(self.reasons),
            "notes": list(self.notes),
        }


def _dotted(loc: tuple) -> str:
    return ".".join(str(p) for p in loc if not str(p).startswith(("function-", "model-")))


def parse_risk(data: NonPermanenceRisk | Mapping) -> NonPermanenceRisk:
    """Validate a mapping (e.g. the ``[buffer]`` table of icam.toml) into :class:`NonPermanenceRisk`;
    unknown keys and impossible values raise :class:`InputError` naming the dotted key."""
    if isinstance(data, NonPermanenceRisk):
        return data
    try:
        return NonPermanenceRisk.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = _dotted(err["loc"])
        if err["type"] == "extra_forbidden":
            raise InputError(f"unknown key '{key}' in the non-permanence risk factors",
                             "check its spelling against icam.carbon.buffer") from None
        if err["type"] == "missing":
            raise InputError(f"missing key '{key}' in the non-permanence risk factors") from None
        raise InputError(f"'{key}': {err['msg'].removeprefix('Value error, ')}") from None


def _round(x: float, how: str) -> float:
    if how == "up":
        return float(math.ceil(x - 1e-9))  # 17.000000001 from float sums is still 17
    if how == "nearest":
        return float(math.floor(x + 0.5))
    return x


class _Scoring:
    """The scores, failure reasons and notes of one assessment, filled category by category."""

    def __init__(self, rules: ToolRules):
        self.rules = rules
        self.scores: dict[str, float] = {}
        self.reasons: list[str] = []
        self.notes: list[str] = []

    def factor(self, key: str, raw: float) -> float:
        if self.rules.floor_factors_at_zero and raw < 0:
            self.notes.append(f"{key}: mitigations exceed the risks ({raw:g}); the factor counts 0")
            raw = 0.0
        self.scores[key] = raw
        return raw

    def internal(self, internal) -> list[float]:
        rules = self.rules
        parts = [self.factor(f"internal.{name}", getattr(internal, name).raw_score(rules))
                 for name in ("project_management", "financial_viability", "opportunity_cost", "project_longevity")]
        self.reasons += [f"internal.project_management: {s}" for s in internal.project_management.failures()]
        self.reasons += [f"internal.financial_viability: {s}" for s in internal.financial_viability.failures()]
        self.reasons += [f"internal.opportunity_cost: {s}" for s in internal.opportunity_cost.failures()]
        self.reasons += [f"internal.project_longevity: {s}" for s in internal.project_longevity.failures(rules)]
        return parts

    def external(self, ext) -> list[float]:
        parts = [self.factor(f"external.{name}", getattr(ext, name).raw_score(self.rules))
                 for name in EXTERNAL_FACTORS]
        for name in EXTERNAL_FACTORS:
            self.reasons += [f"external.{name}: {s}" for s in getattr(ext, name).failures()]
        return parts

    def natural(self, natural) -> list[float]:
        rules, parts = self.rules, []
        for name, h in natural.hazards.items():
            if not any(math.isclose(h.mitigation, m) for m in rules.mitigation_factors):
                raise InputError(f"natural.hazards.{name}.mitigation = {h.mitigation:g} is not one of the tool's "
                                 f"factors {', '.join(f'{m:g}' for m in rules.mitigation_factors)}")
            ls = rules.ls_table[h.significance][h.likelihood]
            if ls is None:
                self.reasons.append(f"natural.{name}: a {h.significance} loss {h.likelihood.replace('_', ' ')} "
                                    f"fails the assessment (LS table)")
                ls = 0.0  # the project fails; the hazard adds nothing to a total that is not used
            self.scores[f"natural.{name}"] = ls * h.mitigation
            parts.append(ls * h.mitigation)
        if natural.climate_change_adjustment:
            self.scores["natural.climate_change_adjustment"] = natural.climate_change_adjustment
            parts.append(natural.climate_change_adjustment)
        return parts

    def category(self, cat: str, parts: list[float]) -> float:
        t = float(sum(parts))
        if self.rules.floor_categories_at_zero and t < 0:
            self.notes.append(f"{cat} risk is negative ({t:g}); it counts 0")
            t = 0.0
        limit = (self.rules.category_fail_above or {}).get(cat)
        if limit is not None and t > limit:
            self.reasons.append(f"{cat} risk {t:g} exceeds the tool's limit {limit:g}")
        return t


def assess(risk: NonPermanenceRisk | Mapping, rules: ToolRules = NPRT_V4_2) -> BufferResult:
    """Score a project with the AFOLU Non-Permanence Risk Tool → buffer per cent.

    ``risk`` is a :class:`NonPermanenceRisk` or a mapping of the same shape. Factor scores are
    Σ risks + Σ mitigations (floored at 0 if ``rules.floor_factors_at_zero``), project
    longevity by the tool's formula, natural hazards LS × M; categories are summed (floored at
    0 if ``rules.floor_categories_at_zero``); overall = internal + external + natural. The
    project fails on any failed criterion, a FAIL cell of the LS table, a category above
    ``rules.category_fail_above`` or an overall rating above ``rules.fail_above``; otherwise
    buffer % = max(rules.minimum_rating, rounded overall rating).
    """
    r = parse_risk(risk)
    scoring = _Scoring(rules)
    parts = (scoring.internal(r.internal), scoring.external(r.external), scoring.natural(r.natural))
    totals = {cat: scoring.category(cat, p) for cat, p in zip(CATEGORIES, parts)}
    total = totals["internal"] + totals["external"] + totals["natural"]
    if rules.fail_above is not None and total > rules.fail_above:
        scoring.reasons.append(f"overall risk rating {total:g} exceeds {rules.fail_above:g}: the project fails the "
                               "non-permanence risk assessment")
    passes = not scoring.reasons
    buffer_pct = None
    if passes:
        rated = _round(total, rules.rounding)
        if rated < rules.minimum_rating:
            scoring.notes.append(f"overall risk rating {total:g} is below the tool's minimum; "
                                 f"the buffer is the minimum {rules.minimum_rating:g} %")
        buffer_pct = min(100.0, max(rules.minimum_rating, rated))
    return BufferResult(tool_version=rules.version, scores=scoring.scores, internal=totals["internal"],
                        external=totals["external"], natural=totals["natural"], total=total, buffer_pct=buffer_pct,
                        passes=passes, reasons=tuple(scoring.reasons), notes=tuple(scoring.notes))
