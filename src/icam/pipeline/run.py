"""One project run, start to finish: read ``icam.toml``, run the stages, publish (outputs + registry).

Before anything is computed the run checks that its outputs could be published
(:func:`icam.pipeline.publish.check_publishable`) and takes the project's run lock
(:mod:`icam.pipeline.lock`). What the machine does to a run becomes one line a user reads, with
nothing published: Ctrl-C or SIGTERM (:class:`~icam.core.errors.Interrupted`, exit 130 or 143), a full
disk or a folder that turned read-only (:func:`~icam.core.errors.environment_error`), a database another
program holds locked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import OperationalError

from icam.core.atomic import write_probe
from icam.core.blocks import block_executor
from icam.core.errors import IcamError, Interrupted, Terminated, environment_error
from icam.pipeline.config import CounterfactualSection, load_config
from icam.pipeline.interrupts import Interrupts
from icam.pipeline.lock import LockOwner, run_lock
from icam.pipeline.project import build_stages
from icam.pipeline.publish import Published, check_publishable, publish, recover
from icam.pipeline.runner import Pipeline, RunResult, Stage

NOTHING_PUBLISHED = "nothing was published"


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
                on_plan: Callable[[int], None] | None = None, *, wait: bool = False,
                on_wait: Callable[[LockOwner], None] | None = None, scheduler: str | None = None) -> ProjectRun:
    """Run the pipeline on ``project_dir`` and publish it; ``on_plan(n_stages)`` is called once the stages
    are known, ``on_stage`` reports each stage's progress. Another run of the project in progress is an
    :class:`IcamError`, or with ``wait`` is waited for (``on_wait(owner)`` is called before waiting).
    ``scheduler``: where the block-wise raster steps run (:func:`icam.core.blocks.block_executor`: threads,
    processes, a dask cluster's tcp://HOST:PORT; None: in memory below a size, on processes above); the
    numbers are the same, and the run manifest records it."""
    project_dir = Path(project_dir)
    with _as_one_line(project_dir):
        config = load_config(project_dir)
        check_publishable(project_dir)
        # the pool first: an unknown scheduler, or a cluster out of reach, is refused before the project is touched
        with _pool(scheduler) as pool, run_lock(project_dir, wait=wait, on_wait=on_wait):
            recover(project_dir)
            stages = build_stages(config, project_dir=project_dir, pool=pool)
            if on_plan is not None:
                on_plan(len(stages))
            run = Pipeline(project_dir, stages, config.model_dump(mode="json"),
                           execution={"scheduler": scheduler}).run(on_stage)
            return ProjectRun(run, publish(run, project_dir, config))


@contextmanager
def _pool(scheduler: str | None) -> Iterator[Executor | None]:
    """The run's pool for block-wise steps (None without a scheduler: each stage decides by the map's size)."""
    if scheduler is None:
        yield None
        return
    with block_executor(scheduler) as pool:
        yield pool


# the stages the counterfactual checks need, in the pipeline's order
CHECK_STAGES = ("landscape", "counterfactual_estimates", "activity_data", "risk", "baseline", "renewals", "accounting",
                "counterfactual")


def check_counterfactual_project(project_dir: Path, on_stage: Callable[[Stage, str], None] | None = None,
                                 on_plan: Callable[[int], None] | None = None) -> dict:
    """The counterfactual checks of ``project_dir``'s baseline (``[counterfactual]``, or its defaults where the
    section is absent), through the stages they need (cached like a run's); nothing is published."""
    project_dir = Path(project_dir)
    with _as_one_line(project_dir):
        config = load_config(project_dir)
        if config.carbon is None:
            raise IcamError("the counterfactual checks need [carbon] in icam.toml (the baseline they check)",
                            "add [periods], [risk], [baseline] and [carbon] (`icam init` documents them)")
        if config.counterfactual is None:
            config = config.model_copy(update={"counterfactual": CounterfactualSection()})
        with run_lock(project_dir):
            stages = [s for s in build_stages(config, project_dir=project_dir) if s.name in CHECK_STAGES]
            if on_plan is not None:
                on_plan(len(stages))
            run = Pipeline(project_dir, stages, config.model_dump(mode="json")).run(on_stage)
            run.discard()
            return run.results["counterfactual"]


@contextmanager
def _as_one_line(project_dir: Path) -> Iterator[None]:
    """Turn what the machine does to a run into an :class:`IcamError` that says nothing was published (the
    runner removes its staging folder and :func:`publish` rolls back on any exception). A writer that fails
    without saying why (GDAL, OGR) is checked against the disk: if 16 MiB can no longer be written in the
    project folder, the disk (or a file-size limit, or a folder turned read-only) is named; else the error
    is a bug and keeps its traceback."""
    noted = Interrupts()
    try:
        with noted:
            yield
    except KeyboardInterrupt as exc:
        raise Interrupted.by(isinstance(exc, Terminated), NOTHING_PUBLISHED) from None
    except Exception as exc:
        if noted.seen:
            raise Interrupted.by(noted.terminated, NOTHING_PUBLISHED) from None
        if isinstance(exc, IcamError):
            raise
        if isinstance(exc, OperationalError):
            raise database_error(exc) from None
        problem = environment_error(exc, NOTHING_PUBLISHED) if isinstance(exc, OSError) else None
        if problem is None and (probe := write_probe(project_dir)) is not None:
            problem = environment_error(OSError(probe.errno, probe.strerror), NOTHING_PUBLISHED)
        if problem is None:
            raise
        raise problem from None


def database_error(exc: OperationalError) -> IcamError:
    """One line for the registry database refusing a write (SQLite: locked, read-only, disk full)."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    if "locked" in text or "busy" in text:
        hint = ("another program is writing to it (an icam command, QGIS, a web app): wait for it to finish and "
                "run again")
    elif "readonly" in text or "read-only" in text:
        hint = "make the database file and its folder writable for your user"
    elif "full" in text:
        hint = "free some space on its disk and run again"
    else:
        hint = "check that the database is reachable and writable"
    return IcamError(f"the registry database refused the run's writes ({text})", f"{hint}; {NOTHING_PUBLISHED}")
