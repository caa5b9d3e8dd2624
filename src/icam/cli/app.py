"""The ``icam`` application: the command groups, each in its own module, and ``--version``.

Any :class:`~icam.core.errors.IcamError` is printed as one line, ``error: ...``, and the
command exits with code 2 (:mod:`icam.cli.errors`).
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from icam import __version__
from icam.cli import agreements, area, cache, check, demo, enforcement, ledger, risk, run, serve, users
from icam.cli.options import console

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="icam: monitoring, baselines and carbon accounting for REDD+ projects.")


def _version(value: bool) -> None:
    if value:
        console.print(f"icam {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True,
                                                    help="Print icam's version and exit.")] = None,
) -> None:
    """icam: monitoring, baselines and carbon accounting for REDD+ projects."""


app.command("run")(run.run)
app.command("init")(run.init)
app.command("demo")(demo.demo)
app.command("serve")(serve.serve)
app.add_typer(area.area_app, name="area")
app.add_typer(risk.risk_app, name="risk")
app.add_typer(ledger.ledger_app, name="ledger")
app.add_typer(agreements.agreements_app, name="agreements")
app.add_typer(enforcement.enforcement_app, name="enforcement")
app.add_typer(cache.cache_app, name="cache")
app.add_typer(check.check_app, name="check")
app.add_typer(users.users_app, name="users")
