"""The report's "Is this baseline over-crediting?" section: ``results.json["counterfactual"]`` made readable
(docs/methods.md, "Counterfactual checks")."""

from __future__ import annotations

METHOD_NAMES = {"pixel_matching": "Pixel matching (PACT) with a difference in differences",
                "synthetic_control": "Synthetic control (West et al. 2020) of the rate's trend"}


def baseline_by_year(accounting: dict | None) -> dict[int, float]:
    """The accounting's baseline loss in the project area per calendar year (ha, summed over the strata)."""
    out: dict[int, float] = {}
    for row in (accounting or {}).get("areas_by_year", []):
        out[int(row["year"])] = out.get(int(row["year"]), 0.0) + float(row.get("baseline_project_ha") or 0.0)
    return out


def _unidentified_reason(diagnostics: dict) -> str:
    losses = diagnostics.get("losses_among_pairs") or {}
    return (f"the pairs lost too few pixels to estimate ({losses.get('project_before', 0):,.0f} before the start and "
            f"{losses.get('project_after', 0):,.0f} after it in the project, {losses.get('controls_before', 0):,.0f} "
            f"before it among the controls; at least {diagnostics.get('min_losses')} each)")


def counterfactual_view(counterfactual: dict) -> dict:
    """Per method: its name, estimate, interval, balance rows, parallel-trends test and placebos; the verdict."""
    methods = []
    for key, m in counterfactual["methods"].items():
        d = m["diagnostics"]
        placebo = d.get("placebo_in_time") or {}
        ci = m["ci90_ha"] or (None, None)
        methods.append({
            "key": key, "name": METHOD_NAMES.get(key, key.replace("_", " ")), "avoided_ha": m["avoided_ha"],
            "ci_low": ci[0], "ci_high": ci[1], "identified": d.get("identified", True),
            "unidentified_reason": _unidentified_reason(d),
            "ratio": counterfactual["ratio_to_baseline"].get(key),
            "in_verdict": key in counterfactual.get("methods_in_verdict", []),
            "balance": d.get("balance", []), "trends": d.get("parallel_trends"),
            "match_rate": d.get("match_rate"), "pairs": d.get("pairs"), "donors": d.get("donors"),
            "p_value": d.get("p_value"), "n_weights": len(d.get("weights") or {}),
            "placebo_runs": placebo.get("runs_detail", []), "placebo_share": placebo.get("share_covering_zero"),
            "placebo_sd_ha": placebo.get("sd_ha")})
    verdict = counterfactual["verdict"]
    return {"methods": methods, "baseline_avoided_ha": counterfactual["baseline_avoided_ha"],
            "flag": counterfactual["over_crediting_flag"], "verdict": verdict[:1].upper() + verdict[1:] + "."}
