"""Publishing a run: the registry and ledger writes and the outputs land together, or not at all.

Order (design.md, "Compute everything into a staging folder → commit registry and ledger in one
transaction → publish outputs"): every stage has written into the staging folder; one database
transaction issues the credits, records the agreements' assessments and raises the new alerts; it is
flushed (so a refusal, e.g. a period already issued with other figures, is raised before anything
moves); the staging folder is swapped in for ``outputs/``; then the transaction commits. If the swap
fails, the transaction rolls back; if the commit fails, the previous outputs are swapped back.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from icam import ledger
from icam.carbon.accounting import AccountingTable
from icam.core.errors import InputError
from icam.pipeline.runner import RunResult


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
            raise InputError(f"{outputs} exists and is not a folder icam wrote",
                             "move that file away; icam writes its outputs into this folder")
        previous = outputs.with_name(f".outputs-previous-{os.getpid()}")
        os.replace(outputs, previous)
    try:
        os.replace(staging, outputs)
    except BaseException:
        if previous is not None:
            os.replace(previous, outputs)
        raise
    return previous


def _swap_back(outputs: Path, previous: Path | None) -> None:
    shutil.rmtree(outputs, ignore_errors=True)
    if previous is not None:
        os.replace(previous, outputs)


def publish(run: RunResult, project_dir: Path, config) -> Published:
    """Commit the run's registry and ledger writes and swap its outputs in, together (module docstring)."""
    from icam.pipeline.stages import agreements, enforcement
    from icam.store.db import open_session

    r = run.results
    accounting, agreed, alerts = r.get("accounting"), r.get("agreements"), r.get("enforcement")
    counts: dict[str, int] = {}
    previous = None
    swapped = False
    try:
        if accounting is None and agreed is None and alerts is None:
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
