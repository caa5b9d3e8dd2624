"""``icam demo``: simulate the Alto Mayo scenario into a folder, then run the pipeline on it."""

from __future__ import annotations

import functools
import multiprocessing
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from icam.cli.errors import fail_cleanly
from icam.cli.options import progress_bar
from icam.cli.run import WaitOpt, run_with_progress, say_waiting
from icam.core.errors import Interrupted
from icam.pipeline.lock import run_lock


class Scale(str, Enum):
    """The simulator's scales (:mod:`icam.simulate`)."""

    small = "small"
    project = "project"
    jurisdiction = "jurisdiction"


@fail_cleanly
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Folder for the simulated project.")] = Path("icam-demo"),
    scale: Annotated[Scale, typer.Option(help="small (tests), project (Alto Mayo, ~1 Mha region) or jurisdiction "
                                              "(~5.1 Mha).")] = Scale.project,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same landscape.")] = 42,
    project_effect: Annotated[float, typer.Option(
        "--project-effect", help="Fractional reduction of the clearing hazard inside the project area after the "
                                 "start (0 = no effect; default after West et al. 2023).")] = 0.38,
    displacement: Annotated[float, typer.Option(
        help="Share of the clearing prevented inside the project that moves to the leakage belt's forest in "
             "the same year (the same households clearing outside).")] = 0.2,
    wait: WaitOpt = False,
) -> None:
    """Simulate the Alto Mayo scenario into --dir, then run the pipeline on it."""
    from icam.pipeline.interrupts import Interrupts

    # one lock over simulating and running: a run of this folder in progress must not see its inputs rewritten
    with run_lock(directory, wait=wait, command="icam demo", on_wait=say_waiting):
        with progress_bar() as progress:
            task = progress.add_task(f"Simulating Alto Mayo ({scale.value} scale)", total=1.0)

            def report(description: str, fraction: float) -> None:
                progress.update(task, description=description, completed=fraction)

            scenario = {"scale": scale.value, "seed": seed, "project_effect": project_effect,
                        "displacement": displacement}
            try:
                with Interrupts() as interrupts:  # SIGTERM too: the simulating process is stopped, not left behind
                    _simulate_while_importing(directory, report, scenario)
            except KeyboardInterrupt:
                raise Interrupted.by(interrupts.terminated, f"stopped while simulating: {directory} holds an "
                                     "incomplete simulated project; run icam demo again to write it whole") from None
            progress.update(task, completed=1.0)
        # a new simulation is a new project: its credits start from an empty ledger (simulate refuses a folder
        # it did not write, so this never touches a real project's ledger)
        for path in (directory / ".icam").glob("ledger.sqlite*"):
            path.unlink()
        run_with_progress(directory)


def _simulate_while_importing(directory: Path, report: Callable[[str, float], None], scenario: dict) -> None:
    """Simulate ``scenario`` into ``directory`` in a forked process while this one imports the pipeline that runs
    next: those imports take 2 to 3 s of one core, and the simulation's first stages (the terrain and the land
    use, drawn from one generator in order) leave the other core idle. ``report`` gets the simulation's
    progress here, through a pipe."""
    from icam.core.forked import fork_available, start_background
    from icam.simulate import simulate  # heavy (the whole simulator): loaded by icam demo only

    if not fork_available() or _numba_threads_started():
        simulate(directory, progress=report, **scenario)
        return
    receive, send = multiprocessing.get_context("fork").Pipe(duplex=False)
    # every core to the simulation's workers: this process only imports, then waits
    child = start_background(functools.partial(simulate, directory, progress=lambda *step: send.send(step),
                                               **scenario), leave_cores=0)
    send.close()
    try:
        import icam.pipeline.run  # noqa: F401 (imported for the run that follows, while the simulation runs)

        while True:
            if receive.poll(0.2):
                try:
                    report(*receive.recv())
                except EOFError:  # the simulating process and its workers have all ended
                    break
            elif not child.running():
                break
        child.result()
    except BaseException:
        child.cancel()
        raise
    finally:
        receive.close()


def _numba_threads_started() -> bool:
    """Whether numba's threads run in this process (a parallel function was called: a test process, not a fresh
    ``icam demo``): a process forked from it then stops at its own first parallel function (GNU OpenMP's threads
    are not fork-safe), so the simulation runs here."""
    import numba

    try:
        numba.threading_layer()
    except ValueError:  # no threading layer started
        return False
    return True
