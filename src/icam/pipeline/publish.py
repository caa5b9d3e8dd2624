"""Publishing a run: the registry and ledger writes and the outputs land together, or not at all.

Order (design.md, "Compute everything into a staging folder → commit registry and ledger in one
transaction → publish outputs"): every stage has written into the staging folder; one database
transaction issues the credits, records the agreements' assessments and raises the new alerts; it is
flushed (so a refusal, e.g. a period already issued with other figures, is raised before anything
moves); the staging folder is swapped in for ``outputs/``; then the transaction commits. If the swap
fails, the transaction rolls back; if the commit fails, the previous outputs are swapped back. Ctrl-C
stops publishing as anywhere else until the swap begins; from the swap to the end of the commit it is
held, so that no interrupt can leave the new outputs beside the old ledger.

Before anything is computed, :func:`check_publishable` refuses a run whose outputs could not be
published (``outputs`` is a file of the user's, or a folder icam could not replace), and
:func:`recover` tidies what a killed run left (its staging folder; its previous outputs, put back
if it died between moving them aside and moving the new ones in).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from icam import ledger
from icam.carbon.accounting import AccountingTable
from icam.core.errors import IcamError, InputError
from icam.pipeline.cache import CACHE_DIR, remove_incomplete
from icam.pipeline.interrupts import Interrupts
from icam.pipeline.runner import OUTPUTS_DIR, STAGING_PREFIX, RunResult
from icam.pipeline.stages import agreements, enforcement
from icam.store.db import database_url, open_session

PREVIOUS_PREFIX = ".outputs-previous-"


@dataclass(frozen=True)
class Published:
    """What a published run wrote into the registry and the ledger."""

    outputs_dir: Path
    vintage_blocks: int = 0
    issued_blocks: int = 0
    credits: int = 0
    periods: int = 0
    assessments_recorded: int = 0
    alerts_raised: int = 0


def vintage_blocks(table: AccountingTable) -> list[tuple[dt.date, dt.date, int, int, int]]:
    """(start, end, vintage, credits, buffer credits) of each period's calendar-year part with credits:
    VCUs carry the vintage of the year their reductions happened, so a period is issued per vintage."""
    out = []
    for p in table.periods:
        for v in p.vintages:
            if v.credits >= 1:
                start = max(p.start, dt.date(v.year, 1, 1))
                end = min(p.end, dt.date(v.year, 12, 31))
                out.append((start, end, v.year, v.credits, v.buffer_credits))
    return out


def issue_credits(s, project_id: str, table: AccountingTable) -> list:
    """Issue each period's credits into the ledger per vintage, in the transaction ``s``.

    A vintage block already issued with the same credits and buffer is skipped (a rerun issues
    nothing); one issued with other figures is refused with an :class:`InputError` naming it.
    Returns the new :class:`~icam.ledger.IssuanceRecord`s.
    """
    existing = {(r.period_start, r.period_end): r for r in ledger.issuances(s, project_id)}
    issued = []
    for start, end, vintage, credits, buffer in vintage_blocks(table):
        old = existing.get((start, end))
        if old is not None:
            if old.quantity == credits and old.buffer_quantity == buffer:
                continue
            raise InputError(f"vintage {vintage} ({start} – {end}) of {project_id} was issued with "
                             f"{old.quantity:,} credits and {old.buffer_quantity:,} buffer credits; the "
                             f"accounting now gives {credits:,} and {buffer:,}",
                             "an issued period is not reissued; correct it by cancelling credits "
                             "(icam ledger) or restore the inputs it was issued from")
        issued.append(ledger.issue_period(s, project_id, start, end, vintage=vintage,
                                          credits=credits, buffer=buffer))
    return issued


def swap_in(staging: Path, outputs: Path) -> Path | None:
    """Move ``staging`` to ``outputs``; the previous outputs folder (if any) is moved aside and returned."""
    previous = None
    if outputs.exists() or outputs.is_symlink():
        if not outputs.is_dir() or outputs.is_symlink():
            raise _not_a_folder(outputs)
        previous = outputs.with_name(f"{PREVIOUS_PREFIX}{os.getpid()}")
        os.replace(outputs, previous)
    try:
        os.replace(staging, outputs)
    except BaseException:
        if previous is not None:
            os.replace(previous, outputs)
        raise
    return previous


def _not_a_folder(outputs: Path) -> IcamError:
    kind = "a link" if outputs.is_symlink() else "a file"
    return IcamError(f"{outputs} is {kind}, not the outputs folder icam writes",
                     "move or rename it: icam replaces its outputs folder on every run, and never a file of yours")


def _may(path: Path, mode: int) -> bool:
    # the effective user and capabilities decide what a write may do (plain os.access asks for the real user's)
    if os.access in os.supports_effective_ids:
        return os.access(path, mode, effective_ids=True)
    return os.access(path, mode)


def _writable(folder: Path) -> bool:
    return _may(folder, os.W_OK | os.X_OK)


def check_publishable(project_dir: Path) -> None:
    """Refuse, before anything is computed, a run whose outputs could not be published: ``outputs`` is a file
    or a link, or the project folder, ``.icam``, the outputs folder (any folder in it: the old outputs are
    deleted once the new ones are in) or the SQLite ledger is not writable."""
    project_dir = Path(project_dir)
    outputs = project_dir / OUTPUTS_DIR
    if outputs.is_symlink() or (outputs.exists() and not outputs.is_dir()):
        raise _not_a_folder(outputs)
    for folder in (project_dir, project_dir / ".icam", project_dir / CACHE_DIR):
        if folder.is_dir() and not _writable(folder):
            raise IcamError(f"the project folder {folder} is not writable (icam writes its outputs, cache and "
                            "ledger there)", f"make it writable (chmod -R u+w {project_dir}), or copy the project "
                            "to a folder you can write")
    if outputs.is_dir():
        for folder in [outputs, *(p for p in outputs.rglob("*") if p.is_dir() and not p.is_symlink())]:
            if not _writable(folder):
                raise IcamError(f"the outputs folder {outputs} is not writable ({folder} is read-only); icam "
                                "replaces it on every run", f"make it writable (chmod -R u+w {outputs}) or move it "
                                "away")
    ledger_file = _sqlite_ledger(project_dir)
    if ledger_file is not None and ledger_file.exists() and not _may(ledger_file, os.W_OK):
        raise IcamError(f"the ledger {ledger_file} is read-only", f"make it writable (chmod u+w {ledger_file}); "
                        "a run records its credits, assessments and alerts there")


def _sqlite_ledger(project_dir: Path) -> Path | None:
    url = make_url(database_url(project_dir))
    return Path(url.database) if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
        else None


def recover(project_dir: Path) -> None:
    """Tidy what a killed run left behind (call it holding the run lock): its staging folder and cache
    entries being written are deleted; its previous outputs are put back where it died with no outputs
    folder in place (between moving them aside and moving the new ones in), else deleted."""
    project_dir = Path(project_dir)
    outputs = project_dir / OUTPUTS_DIR
    for staging in project_dir.glob(f"{STAGING_PREFIX}*"):
        shutil.rmtree(staging, ignore_errors=True)
    previous = sorted(project_dir.glob(f"{PREVIOUS_PREFIX}*"), key=lambda p: p.stat().st_mtime)
    if previous and not (outputs.exists() or outputs.is_symlink()):
        os.replace(previous.pop(), outputs)
    for folder in previous:
        shutil.rmtree(folder, ignore_errors=True)
    remove_incomplete(project_dir / CACHE_DIR)


def _swap_back(outputs: Path, previous: Path | None) -> None:
    shutil.rmtree(outputs, ignore_errors=True)
    if previous is not None:
        os.replace(previous, outputs)


def publish(run: RunResult, project_dir: Path, config) -> Published:
    """Commit the run's registry and ledger writes and swap its outputs in, together (module docstring)."""
    r = run.results
    accounting, agreed, alerts = r.get("accounting"), r.get("agreements"), r.get("enforcement")
    counts: dict[str, int] = {}
    previous = None
    swapped = False
    with Interrupts() as held:
        try:
            if accounting is None and agreed is None and alerts is None:
                held.critical = True
                previous, swapped = swap_in(run.staging_dir, run.outputs_dir), True
            else:
                with open_session(project_dir, create=True) as s:
                    if accounting is not None:
                        table = accounting.ex_post
                        counts.update(vintage_blocks=len(vintage_blocks(table)), periods=len(table.periods),
                                      credits=int(table.totals["credits"]),
                                      issued_blocks=len(issue_credits(s, config.carbon.project_id, table)))
                    if agreed is not None:
                        counts["assessments_recorded"] = agreements.record(s, agreed)
                    if alerts is not None:
                        counts["alerts_raised"] = enforcement.record(s, config, alerts)
                    s.flush()
                    held.critical = True
                    previous, swapped = swap_in(run.staging_dir, run.outputs_dir), True
        except BaseException:
            if swapped:
                _swap_back(run.outputs_dir, previous)
            raise
        finally:
            run.discard()
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)
    return Published(outputs_dir=run.outputs_dir, **counts)
