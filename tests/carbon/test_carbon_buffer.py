"""The non-permanence buffer (icam.carbon.buffer): AFOLU Non-Permanence Risk Tool v4.2 scoring."""

from __future__ import annotations

import copy
import dataclasses
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icam.carbon.buffer import (
    LIKELIHOODS,
    LS_TABLE_V4_2,
    NPRT_V4_2,
    SIGNIFICANCES,
    TOOL_VERSION,
    ToolRules,
    assess,
    parse_risk,
)
from icam.core.errors import InputError


def base() -> dict:
    """A project with no risk at all: a 100-year agreement, every criterion met, no hazard."""
    return {
        "internal": {
            "project_management": {"adaptive_management_plan": True},
            "financial_viability": {},
            "opportunity_cost": {},
            "project_longevity": {"longevity_years": 100, "legal_agreement": True, "agreement_100_years": True,
                                  "plan_for_entire_longevity": True},
        },
        "external": {
            "land_tenure": {"due_process_on_disputes": True, "binding_agreements_with_rights_holders": True},
            "community_engagement": {},
            "political": {},
        },
        "natural": {"hazards": {}},
    }


def with_(**paths) -> dict:
    """base() with dotted keys replaced: with_(**{"internal.opportunity_cost": {...}})."""
    d = base()
    for path, value in paths.items():
        *head, last = path.split(".")
        node = d
        for k in head:
            node = node[k]
        node[last] = value
    return d


# ------------------------------------------------------------------ version and tables


def test_version_is_named_in_the_output():
    result = assess(base())
    assert TOOL_VERSION == "AFOLU Non-Permanence Risk Tool v4.2"
    assert result.tool_version == TOOL_VERSION
    assert result.to_dict()["tool_version"] == TOOL_VERSION


def test_ls_table_v4_2():
    # v4.2 Table 10 (greentryst.com VM0042 lesson 9.2): significance rows × likelihood columns
    rows = {s: [LS_TABLE_V4_2[s][lk] for lk in LIKELIHOODS] for s in SIGNIFICANCES}
    assert rows == {
        "catastrophic": [None, 30, 20, 5, 4],
        "devastating": [30, 20, 5, 4, 3],
        "major": [20, 5, 4, 3, 2],
        "minor": [5, 4, 3, 2, 1],
        "insignificant": [4, 3, 2, 1, 1],
        "not_applicable": [0, 0, 0, 0, 0],
    }
    assert NPRT_V4_2.mitigation_factors == (1.0, 0.5, 0.25)


@pytest.mark.parametrize("significance, likelihood, m, expected", [
    ("devastating", "once_per_10_to_25y", 1.0, 20.0),
    ("major", "once_per_25_to_50y", 0.5, 2.0),
    ("minor", "more_than_once_per_10y", 0.25, 1.25),
    ("insignificant", "once_per_100y_or_less", 1.0, 1.0),
    ("not_applicable", "more_than_once_per_10y", 1.0, 0.0),
])
def test_natural_hazard_is_ls_times_m(significance, likelihood, m, expected):
    r = assess(with_(**{"natural.hazards": {"fire": {"significance": significance, "likelihood": likelihood,
                                                      "mitigation": m}}}))
    assert r.scores["natural.fire"] == pytest.approx(expected)
    assert r.natural == pytest.approx(expected)


# ------------------------------------------------------------------ worked examples


def test_published_v4_2_risk_report():
    """The v4.2 risk report of a published soil-carbon project (github.com/mihirobendre/ecobliss-docs,
    NPRT.md): PM 2 − 1 − 1 = 0, FV −2 → 0, OC 0, PL 25 − 50/4 = 12.5; LT 2 − 2 − 2 → 0, SE 0,
    PR 2 − 2 = 0; fire 5 × 0.5, pests 3 × 0.5, extreme weather 2 × 0.5 → 5; overall 17.5."""
    d = base()
    i, e = d["internal"], d["external"]
    i["project_management"].update(risks={"f": 2}, mitigations={"h": -1, "i": -1})
    i["financial_viability"] = {"mitigations": {"j": -2}}
    i["project_longevity"] = {"longevity_years": 50, "legal_agreement": True, "plan_for_entire_longevity": True}
    e["land_tenure"].update(risks={"b": 2}, mitigations={"n": -2, "o": -2})
    e["political"] = {"risks": {"c": 2}, "mitigations": {"f": -2}}
    d["natural"]["hazards"] = {
        "fire": {"significance": "minor", "likelihood": "more_than_once_per_10y", "mitigation": 0.5},
        "pest_and_disease": {"significance": "minor", "likelihood": "once_per_25_to_50y", "mitigation": 0.5},
        "extreme_weather": {"significance": "insignificant", "likelihood": "once_per_25_to_50y", "mitigation": 0.5},
        "geological": {"significance": "not_applicable", "likelihood": "once_per_100y_or_less"},
        "sea_level_rise": {"significance": "not_applicable", "likelihood": "once_per_100y_or_less"},
    }
    r = assess(d)
    assert r.passes and r.reasons == ()
    assert r.scores["internal.project_longevity"] == pytest.approx(12.5)
    assert r.scores["internal.financial_viability"] == 0.0
    assert r.scores["external.land_tenure"] == 0.0
    assert (r.internal, r.external, r.natural) == pytest.approx((12.5, 0.0, 5.0))
    assert r.total == pytest.approx(17.5)
    assert r.buffer_pct == pytest.approx(17.5)
    assert any("financial_viability" in n for n in r.notes)


def test_minimum_rating_applies_below_it():
    r = assess(with_(**{"internal.opportunity_cost": {"risks": {"NPV of the alternative 20-50 % higher": 4}},
                        "natural.hazards": {"fire": {"significance": "minor", "likelihood": "once_per_10_to_25y"}}}))
    assert r.total == pytest.approx(8.0)  # 4 + 4 × 1
    assert r.passes and r.buffer_pct == 12.0
    assert any("minimum" in n for n in r.notes)


def test_zero_risk_withholds_the_minimum():
    r = assess(base())
    assert r.total == 0.0 and r.buffer_pct == NPRT_V4_2.minimum_rating == 12.0


def test_buffer_is_the_overall_rating_above_the_minimum():
    # PM 2 + 2 − 2 = 2, FV 3, OC 8 − 2 = 6, PL 25 − 60/4 = 10 → 21; LT 2, CE 5, PR 4 − 2 = 2 → 9;
    # devastating fire once every 25-50 years, prevention only: 5 × 0.5 = 2.5 → overall 32.5
    d = base()
    i, e = d["internal"], d["external"]
    i["project_management"].update(risks={"a": 2, "b": 2}, mitigations={"experienced team": -2})
    i["financial_viability"] = {"risks": {"breakeven 7-10 years": 3}}
    i["opportunity_cost"] = {"risks": {"alternative NPV ≥ 100 % higher": 8}, "mitigations": {"non-profit": -2}}
    i["project_longevity"] = {"longevity_years": 60, "legal_agreement": True, "plan_for_entire_longevity": True}
    e["land_tenure"]["risks"] = {"different entities": 2}
    e["community_engagement"] = {"risks": {"< 20 % of households within 20 km consulted": 5}}
    e["political"] = {"risks": {"governance −0.79 to −0.32": 4}, "mitigations": {"NDC includes AFOLU": -2}}
    d["natural"]["hazards"] = {"fire": {"significance": "devastating", "likelihood": "once_per_25_to_50y",
                                        "mitigation": 0.5}}
    r = assess(d)
    assert (r.internal, r.external, r.natural, r.total) == pytest.approx((21, 9, 2.5, 32.5))
    assert r.buffer_pct == pytest.approx(32.5)


# ------------------------------------------------------------------ failures


@pytest.mark.parametrize("paths, reason", [
    ({"internal.project_management": {"adaptive_management_plan": False}}, "adaptive management plan"),
    ({"internal.project_longevity": {"longevity_years": 35, "legal_agreement": True,
                                     "plan_for_entire_longevity": True}}, "below the 40-year minimum"),
    ({"internal.project_longevity": {"longevity_years": 100, "legal_agreement": True,
                                     "plan_for_entire_longevity": False}}, "entire project longevity"),
    ({"external.land_tenure": {"due_process_on_disputes": False,
                               "binding_agreements_with_rights_holders": True}}, "due process"),
    ({"external.land_tenure": {"due_process_on_disputes": True,
                               "binding_agreements_with_rights_holders": False}}, "binding legal agreement"),
    ({"natural.hazards": {"fire": {"significance": "catastrophic", "likelihood": "more_than_once_per_10y",
                                   "mitigation": 0.25}}}, r"natural\.fire: a catastrophic loss"),
    ({"external.political": {"fails": ["project area expropriated last year"]}}, "expropriated"),
])
def test_failing_criteria_fail_with_the_reason(paths, reason):
    r = assess(with_(**paths))
    assert not r.passes
    assert r.buffer_pct is None
    assert any(re.search(reason, s) for s in r.reasons), r.reasons


def test_overall_rating_above_60_fails_and_60_passes():
    def project(pm: float) -> dict:
        return with_(**{"internal.project_management": {"adaptive_management_plan": True, "risks": {"x": pm}},
                        "natural.hazards": {"fire": {"significance": "devastating",
                                                     "likelihood": "more_than_once_per_10y"}}})
    at = assess(project(30))
    assert at.total == 60 and at.passes and at.buffer_pct == 60
    above = assess(project(30.5))
    assert not above.passes and above.buffer_pct is None
    assert "exceeds 60" in above.reasons[-1]


def test_longevity_before_2024_has_a_30_year_minimum():
    r = assess(with_(**{"internal.project_longevity": {
        "longevity_years": 35, "legal_agreement": True, "plan_for_entire_longevity": True,
        "registration_from_2024": False}}))
    assert r.passes
    assert r.scores["internal.project_longevity"] == pytest.approx(25 - 35 / 4)  # 16.25


def test_longevity_without_agreement_needs_the_tools_score():
    d = with_(**{"internal.project_longevity": {"longevity_years": 50, "legal_agreement": False,
                                                "plan_for_entire_longevity": True}})
    with pytest.raises(InputError, match="no verified formula"):
        assess(d)
    d["internal"]["project_longevity"]["score"] = 14.0
    assert assess(d).scores["internal.project_longevity"] == 14.0
    rules = dataclasses.replace(NPRT_V4_2, longevity_without_agreement=(30.0, 2.5))  # a project's own reading
    d["internal"]["project_longevity"].pop("score")
    assert assess(d, rules).scores["internal.project_longevity"] == pytest.approx(10.0)


def test_longevity_score_must_agree_with_the_formula():
    d = with_(**{"internal.project_longevity": {"longevity_years": 50, "legal_agreement": True,
                                                "plan_for_entire_longevity": True, "score": 10}})
    with pytest.raises(InputError, match="disagrees"):
        assess(d)


def test_a_100_year_agreement_scores_zero_and_skips_the_longevity_questions():
    # v4.2 Q2: "If Yes, the project is given a zero score for this risk category. If No, proceed to Q3."
    r = assess(with_(**{"internal.project_longevity": {"longevity_years": 30, "legal_agreement": False,
                                                       "agreement_100_years": True,
                                                       "plan_for_entire_longevity": False}}))
    assert r.passes and r.scores["internal.project_longevity"] == 0.0


def test_longevity_beyond_100_years_counts_zero():
    r = assess(with_(**{"internal.project_longevity": {"longevity_years": 120, "legal_agreement": True,
                                                       "plan_for_entire_longevity": True}}))
    assert r.scores["internal.project_longevity"] == 0.0


# ------------------------------------------------------------------ rules as parameters


def test_rules_can_name_another_version_and_minimum():
    rules = dataclasses.replace(NPRT_V4_2, version="AFOLU Non-Permanence Risk Tool v4.0", minimum_rating=10.0)
    r = assess(base(), rules)
    assert r.tool_version.endswith("v4.0") and r.buffer_pct == 10.0


def test_rounding_is_a_parameter():
    d = with_(**{"internal.opportunity_cost": {"risks": {"x": 17.5}}})
    assert assess(d).buffer_pct == 17.5
    assert assess(d, dataclasses.replace(NPRT_V4_2, rounding="up")).buffer_pct == 18.0
    assert assess(d, dataclasses.replace(NPRT_V4_2, rounding="nearest")).buffer_pct == 18.0


def test_category_limits_are_optional():
    d = with_(**{"external.political": {"risks": {"x": 21}}})
    assert assess(d).passes
    r = assess(d, dataclasses.replace(NPRT_V4_2, category_fail_above={"external": 20}))
    assert not r.passes and "external risk 21 exceeds" in r.reasons[0]


def test_negative_factor_floors_are_parameters():
    d = with_(**{"internal.opportunity_cost": {"mitigations": {"100-year commitment": -8}},
                 "internal.financial_viability": {"risks": {"breakeven > 10 years": 3}}})
    assert assess(d).internal == 3.0
    rules = dataclasses.replace(NPRT_V4_2, floor_factors_at_zero=False)
    r = assess(d, rules)
    assert r.scores["internal.opportunity_cost"] == -8.0 and r.internal == 0.0  # the category still floors


@pytest.mark.parametrize("kwargs", [
    {"minimum_rating": -1}, {"minimum_rating": 101}, {"fail_above": 5.0}, {"rounding": "down"},
    {"category_fail_above": {"social": 10}}, {"mitigation_factors": (1.0, 0.0)},
    {"longevity_with_agreement": (25.0, 0.0)},
])
def test_impossible_rules_are_refused(kwargs):
    with pytest.raises(InputError):
        ToolRules(**kwargs)


# ------------------------------------------------------------------ bad inputs


@pytest.mark.parametrize("mutate, match", [
    (lambda d: d["internal"].update(pm={}), "unknown key 'internal.pm'"),
    (lambda d: d["internal"].pop("financial_viability"), "missing key 'internal.financial_viability'"),
    (lambda d: d["internal"]["financial_viability"].update(risks={"x": -1}), "risk scores are ≥ 0"),
    (lambda d: d["internal"]["financial_viability"].update(mitigations={"x": 2}), "write them ≤ 0"),
    (lambda d: d["natural"]["hazards"].update(fire={"significance": "huge", "likelihood": "once_per_10_to_25y"}),
     "natural.hazards.fire.significance"),
    (lambda d: d["natural"]["hazards"].update(fire={"significance": "minor", "likelihood": "once_per_10_to_25y",
                                                    "mitigation": 0.3}), "not one of the tool's factors"),
    (lambda d: d["internal"]["project_longevity"].update(longevity_years=0), "longevity_years"),
    (lambda d: d["natural"].update(climate_change_adjustment=-1), "climate_change_adjustment"),
    (lambda d: d["internal"]["opportunity_cost"].update(risks={"x": float("nan")}), "finite"),
])
def test_bad_inputs_are_refused_by_key(mutate, match):
    d = base()
    mutate(d)
    with pytest.raises(InputError, match=match):
        assess(d)


def test_result_is_frozen_and_serialisable():
    r = assess(base())
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.total = 1.0
    assert json.loads(json.dumps(r.to_dict()))["buffer_pct"] == 12.0
    assert parse_risk(base()) == parse_risk(parse_risk(base()))


def test_climate_change_points_add_to_natural_risk():
    d = with_(**{"natural.climate_change_adjustment": 1.5,
                 "natural.hazards": {"fire": {"significance": "major", "likelihood": "once_per_10_to_25y"}}})
    r = assess(d)
    assert r.natural == pytest.approx(6.5) and r.scores["natural.climate_change_adjustment"] == 1.5


# ------------------------------------------------------------------ invariants

score = st.floats(min_value=0, max_value=12, allow_nan=False)
deduction = st.floats(min_value=-8, max_value=0, allow_nan=False)
factor = st.fixed_dictionaries({"risks": st.dictionaries(st.sampled_from("abcde"), score, max_size=3),
                                "mitigations": st.dictionaries(st.sampled_from("fgh"), deduction, max_size=2)})
hazard = st.fixed_dictionaries({"significance": st.sampled_from(SIGNIFICANCES),
                                "likelihood": st.sampled_from(LIKELIHOODS),
                                "mitigation": st.sampled_from(NPRT_V4_2.mitigation_factors)})


@st.composite
def projects(draw):
    d = base()
    i, e = d["internal"], d["external"]
    i["project_management"].update(draw(factor), adaptive_management_plan=draw(st.booleans()))
    i["financial_viability"] = draw(factor)
    i["opportunity_cost"] = draw(factor)
    i["project_longevity"] = {"longevity_years": draw(st.floats(min_value=1, max_value=150)),
                              "legal_agreement": True, "agreement_100_years": draw(st.booleans()),
                              "plan_for_entire_longevity": draw(st.booleans()),
                              "registration_from_2024": draw(st.booleans())}
    e["land_tenure"].update(draw(factor), due_process_on_disputes=draw(st.booleans()),
                            binding_agreements_with_rights_holders=draw(st.booleans()))
    e["community_engagement"] = draw(factor)
    e["political"] = draw(factor)
    d["natural"]["hazards"] = draw(st.dictionaries(st.sampled_from(["fire", "pests", "storms", "landslides"]),
                                                   hazard, max_size=4))
    return d


@settings(max_examples=300, deadline=None)
@given(projects())
def test_buffer_bounds_and_failure_rules(d):
    r = assess(copy.deepcopy(d))
    i, e, n = d["internal"], d["external"], d["natural"]
    pl = i["project_longevity"]
    minimum_years = 40 if pl["registration_from_2024"] else 30
    fail_cell = any(LS_TABLE_V4_2[h["significance"]][h["likelihood"]] is None for h in n["hazards"].values())
    longevity_ok = pl["agreement_100_years"] or (pl["plan_for_entire_longevity"]
                                                 and pl["longevity_years"] >= minimum_years)
    criteria_met = (i["project_management"]["adaptive_management_plan"] and longevity_ok
                    and e["land_tenure"]["due_process_on_disputes"]
                    and e["land_tenure"]["binding_agreements_with_rights_holders"])
    assert r.passes == (criteria_met and not fail_cell and r.total <= 60)
    assert min(r.internal, r.external, r.natural) >= 0
    assert r.total == pytest.approx(r.internal + r.external + r.natural)
    if r.passes:
        assert NPRT_V4_2.minimum_rating <= r.buffer_pct <= 100
        assert r.buffer_pct == pytest.approx(max(12.0, r.total))
        assert r.reasons == ()
    else:
        assert r.buffer_pct is None and len(r.reasons) > 0
