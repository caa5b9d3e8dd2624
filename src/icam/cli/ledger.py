"""``icam ledger``: the credit ledger from the command line.

``icam ledger verify [DIR] [--url URL] [--anchor HASH]``   check the audit chain, balances and serial blocks
``icam ledger balances [DIR]``                             credits held, retired and cancelled per account
``icam ledger history [DIR]``                              the audit log, oldest first, and its head hash
``icam ledger issue DIR --project P --period-start D --period-end D --vintage Y --credits N --buffer M``
``icam ledger transfer|retire|cancel [DIR] ...``           move credits out of an account
``icam ledger upgrade [DIR]``                              create the ledger or bring its schema up to date

The ledger is ``DIR/.icam/ledger.sqlite`` unless ``--url`` or ``ICAM_DATABASE_URL`` names a database.
Bad input exits with code 2 and one line ``error: ...``; ``verify`` exits with 1 when the ledger
does not hold (tampering or corruption is a finding about the ledger, not bad input).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from icam.cli.errors import fail_cleanly
from icam.cli.options import DateOpt, DirArg, UrlOpt, console, project_session

ledger_app = typer.Typer(add_completion=False, no_args_is_help=True,
                         help="The credit ledger: issuance, serial blocks, the buffer pool, retirements and the "
                              "hash-chained audit log.")


def _block_text(block) -> str:
    return f"{block.label} ({block.quantity:,})"


@ledger_app.command()
@fail_cleanly
def verify(
    project_dir: DirArg = Path("."),
    url: UrlOpt = None,
    anchor: Annotated[Optional[list[str]], typer.Option(
        "--anchor", help="A head hash published earlier (HASH or SEQ:HASH); it must be in the chain. Repeatable.")]
    = None,
) -> None:
    """Recompute the audit chain, every balance and the serial blocks.

    Exit 0 with a summary when everything holds; exit 1 with one line per problem (table and row:
    what differs) when it does not: tampering or corruption is a finding about the ledger, not bad
    input. Exit 2 when the ledger cannot be opened.
    """
    from icam.ledger import verify as verify_ledger

    with project_session(project_dir, url) as db_session:
        report = verify_ledger(db_session, anchor or ())
    if report.ok:
        console.print(f"Ledger verified: {report.entries} audit entries, head seq {report.head_seq} hash "
                      f"{report.head_hash}; {report.accounts} accounts, {report.issuances} issuances; "
                      f"{report.issued:,} credits issued (buffer included), {report.retired:,} retired, "
                      f"{report.cancelled:,} cancelled, {report.outstanding:,} held. Chain, balances and serial "
                      "blocks hold.", soft_wrap=True, highlight=False, markup=False)
        return
    for problem in report.problems:
        typer.echo(str(problem))
    typer.echo(f"ledger verification FAILED: {len(report.problems)} problem(s); the ledger does not match its "
               "audit log", err=True)
    raise typer.Exit(1)


@ledger_app.command()
@fail_cleanly
def balances(project_dir: DirArg = Path("."), url: UrlOpt = None) -> None:
    """Credits held, retired and cancelled by each account (whole tCO2e)."""
    from icam.ledger import balances as read_balances
    from icam.ledger import issuances

    with project_session(project_dir, url) as db_session:
        rows = read_balances(db_session)
        issued = issuances(db_session)
    table = Table(title="Ledger balances (credits, tCO2e)")
    for name in ("Account", "Kind", "Held", "Retired", "Cancelled"):
        table.add_column(name, justify="left" if name in ("Account", "Kind") else "right")
    for row in rows:
        table.add_row(row.name, row.kind, f"{row.held:,}", f"{row.retired:,}", f"{row.cancelled:,}")
    console.print(table)
    total = sum(i.quantity + i.buffer_quantity for i in issued)
    plural = "s" if len(issued) != 1 else ""
    console.print(f"{len(issued)} issuance{plural}, {total:,} credits issued (buffer included); "
                  f"{sum(r.held for r in rows):,} held, {sum(r.retired for r in rows):,} retired, "
                  f"{sum(r.cancelled for r in rows):,} cancelled.", highlight=False)


@ledger_app.command()
@fail_cleanly
def history(project_dir: DirArg = Path("."), url: UrlOpt = None) -> None:
    """The audit log, oldest first, and the head hash to publish (e.g. in the monitoring report)."""
    from icam.ledger import history as read_history

    with project_session(project_dir, url) as db_session:
        entries = read_history(db_session)
    table = Table(title="Ledger audit log")
    for name in ("Seq", "At (UTC)", "Event", "What", "Hash"):
        table.add_column(name, justify="right" if name == "Seq" else "left")
    for entry in entries:
        table.add_row(str(entry.seq), entry.at[:19].replace("T", " "), entry.event_type, entry.summary(),
                      entry.hash[:12] + "…")
    console.print(table)
    if entries:
        console.print(f"Head: seq {entries[-1].seq} hash {entries[-1].hash}", soft_wrap=True, highlight=False)
    else:
        console.print("The audit log is empty.")


@ledger_app.command()
@fail_cleanly
def issue(
    project_dir: DirArg,
    project: Annotated[str, typer.Option(help="Project id used in serial numbers, e.g. VCS944.")],
    period_start: Annotated[dt.datetime, typer.Option(help="First day of the monitoring period, YYYY-MM-DD.",
                                                      **DateOpt)],
    period_end: Annotated[dt.datetime, typer.Option(help="Last day of the monitoring period, YYYY-MM-DD.",
                                                    **DateOpt)],
    vintage: Annotated[int, typer.Option(help="Vintage year of the credits.")],
    credits: Annotated[int, typer.Option(help="Credits issued to the project (whole tCO2e).")],
    buffer: Annotated[int, typer.Option(help="Credits withheld into the buffer pool (whole tCO2e).")],
    url: UrlOpt = None,
) -> None:
    """Issue one monitoring period's credits and buffer contribution (the ledger is created if missing).

    A period already issued is refused (exit 2).
    """
    from icam.ledger import issue_period

    with project_session(project_dir, url, create=True) as db_session:
        record = issue_period(db_session, project, period_start.date(), period_end.date(), vintage, credits, buffer)
    console.print(f"Issued {_block_text(record.credit_block)} to issuance/{record.project}", highlight=False,
                  soft_wrap=True)
    if record.buffer_block is not None:
        console.print(f"Buffer {_block_text(record.buffer_block)} to the buffer pool", highlight=False, soft_wrap=True)


@ledger_app.command()
@fail_cleanly
def transfer(
    project_dir: DirArg = Path("."),
    from_account: Annotated[str, typer.Option("--from", help="Account the credits leave, e.g. issuance/VCS944.")] = "",
    to_account: Annotated[str, typer.Option("--to", help="Holder account receiving them (opened if new).")] = "",
    quantity: Annotated[int, typer.Option(help="Credits to move (whole tCO2e).")] = 0,
    vintage: Annotated[Optional[int], typer.Option(help="Move credits of this vintage only.")] = None,
    url: UrlOpt = None,
) -> None:
    """Move credits from one account to another, lowest serials first."""
    from icam.core.errors import IcamError
    from icam.ledger import BUFFER_ACCOUNT, open_account
    from icam.ledger import transfer as move

    if not from_account or not to_account:
        raise IcamError("give --from and --to accounts")
    with project_session(project_dir, url) as db_session:
        if not to_account.startswith("issuance/") and to_account != BUFFER_ACCOUNT:
            open_account(db_session, to_account, exist_ok=True)  # same transaction: undone if the transfer fails
        movement = move(db_session, from_account, to_account, quantity, vintage=vintage)
    _print_movement(f"Transferred {movement.quantity:,} credits from {movement.account} to {movement.to_account}",
                    movement)


@ledger_app.command()
@fail_cleanly
def retire(
    project_dir: DirArg = Path("."),
    account: Annotated[str, typer.Option(help="Account whose credits are retired.")] = "",
    quantity: Annotated[int, typer.Option(help="Credits to retire (whole tCO2e).")] = 0,
    beneficiary: Annotated[str, typer.Option(help="On whose behalf.")] = "",
    purpose: Annotated[str, typer.Option(help="What for, e.g. 'offsetting 2024 emissions'.")] = "",
    vintage: Annotated[Optional[int], typer.Option(help="Retire credits of this vintage only.")] = None,
    url: UrlOpt = None,
) -> None:
    """Retire credits on behalf of a beneficiary, lowest serials first."""
    from icam.ledger import retire as retire_credits

    with project_session(project_dir, url) as db_session:
        movement = retire_credits(db_session, account, quantity, beneficiary, purpose, vintage=vintage)
    _print_movement(f"Retired {movement.quantity:,} credits from {movement.account}", movement)


@ledger_app.command()
@fail_cleanly
def cancel(
    project_dir: DirArg = Path("."),
    account: Annotated[str, typer.Option(help="Account whose credits are cancelled (buffer-pool for a reversal).")]
    = "",
    quantity: Annotated[int, typer.Option(help="Credits to cancel (whole tCO2e).")] = 0,
    reason: Annotated[str, typer.Option(help="Why, e.g. 'reversal: 2019 fire'.")] = "",
    url: UrlOpt = None,
) -> None:
    """Cancel credits (take them out of circulation without a beneficiary), lowest serials first."""
    from icam.ledger import cancel as cancel_credits

    with project_session(project_dir, url) as db_session:
        movement = cancel_credits(db_session, account, quantity, reason)
    _print_movement(f"Cancelled {movement.quantity:,} credits from {movement.account}", movement)


def _print_movement(title: str, movement) -> None:
    console.print(title, highlight=False, soft_wrap=True)
    for block in movement.blocks:
        console.print(f"  {_block_text(block)}", highlight=False, soft_wrap=True)


@ledger_app.command()
@fail_cleanly
def upgrade(project_dir: DirArg = Path("."), url: UrlOpt = None) -> None:
    """Create the ledger's tables, or bring an older ledger's schema up to this icam's (back it up first)."""
    from icam.store.db import current_revision

    with project_session(project_dir, url, create=True) as s:
        console.print(f"Ledger schema at revision {current_revision(s.get_bind())}.", highlight=False)
