"""``icam check``: checks of a project's numbers that do not change them.

``icam check counterfactual DIR [--json]``: the deforestation avoided inside the project by methods
independent of its baseline, and whether the baseline over-credits (docs/methods.md, "Counterfactual checks").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from icam.cli.errors import fail_cleanly, native_stderr_held
from icam.cli.options import console, progress_bar

check_app = typer.Typer(add_completion=False, no_args_is_help=True,
                        help="Checks of a project's numbers: is the baseline over-crediting?")


@check_app.command("counterfactual")
@fail_cleanly
def counterfactual(
    project_dir: Annotated[Path, typer.Argument(help="Project folder holding icam.toml (with [carbon]).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON and nothing else.")] = False,
) -> None:
    """Estimate the deforestation the project avoided by pixel matching and by a synthetic control (with
    their placebos) and say whether the baseline over-credits; uses [counterfactual] of icam.toml, or its
    defaults."""
    from icam.pipeline.run import check_counterfactual_project

    with progress_bar() as progress:
        task = progress.add_task("Starting", total=None)

        def on_stage(stage, state):
            if state in ("start", "cached"):
                progress.update(task, description=stage.description + (" (cached)" if state == "cached" else ""))
            else:
                progress.advance(task)

        with native_stderr_held():
            result = check_counterfactual_project(project_dir, on_stage,
                                                  on_plan=lambda n: progress.update(task, total=n))
    if as_json:
        console.print_json(json.dumps(result, allow_nan=False))
        return
    print_counterfactual(result)


def print_counterfactual(result: dict) -> None:
    """Each method's avoided loss beside the baseline's, then the verdict."""
    table = Table(title="Deforestation avoided inside the project over the monitoring periods (ha)")
    for name, justify in (("Method", "left"), ("Avoided", "right"), ("90 % interval", "right"),
                          ("Baseline / method", "right"), ("In the verdict", "left")):
        table.add_column(name, justify=justify)
    table.add_row("baseline (the accounting)", f"{result['baseline_avoided_ha']:,.0f}", "", "", "")
    for name, method in result["methods"].items():
        ratio = result["ratio_to_baseline"].get(name)
        if method["avoided_ha"] is None:
            table.add_row(name.replace("_", " "), "–", "–", "–", "no (no estimate: too few clearings among the pairs)")
            continue
        low, high = method["ci90_ha"]
        table.add_row(name.replace("_", " "), f"{method['avoided_ha']:,.0f}", f"{low:,.0f} – {high:,.0f}",
                      "–" if ratio is None else f"{ratio:.2f}",
                      "yes" if name in result["methods_in_verdict"] else "no (the baseline rests on it)")
    console.print(table)
    console.print(result["verdict"][0].upper() + result["verdict"][1:] + ".")
