"""One project run, start to finish: read ``icam.toml``, run the stages, publish (outputs + registry)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from icam.pipeline.config import load_config
from icam.pipeline.project import build_stages
from icam.pipeline.publish import Published, publish
from icam.pipeline.runner import Pipeline, RunResult, Stage


@dataclass(frozen=True)
class ProjectRun:
    """A published run: the stages' results and what publishing wrote."""

    run: RunResult
    published: Published

    @property
    def results(self) -> dict:
        return self.run.results

    @property
    def outputs_dir(self) -> Path:
        return self.published.outputs_dir


def run_project(project_dir: Path, on_stage: Callable[[Stage, str], None] | None = None,
                on_plan: Callable[[int], None] | None = None) -> ProjectRun:
    """Run the pipeline on ``project_dir`` and publish it; ``on_plan(n_stages)`` is called once the stages
    are known, ``on_stage`` reports each stage's progress."""
    config = load_config(project_dir)
    stages = build_stages(config, project_dir=project_dir)
    if on_plan is not None:
        on_plan(len(stages))
    run = Pipeline(project_dir, stages, config.model_dump(mode="json")).run(on_stage)
    return ProjectRun(run, publish(run, project_dir, config))
