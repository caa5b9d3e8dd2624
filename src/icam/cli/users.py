"""``icam users``: the people of a project's web app and their roles.

``icam users add DIR --email E --role R --password-stdin``   a user (the password read from standard input)
``icam users token DIR --email E``                           a new API token (printed once; scripts send it as
                                                             ``Authorization: Bearer TOKEN``)
``icam users list DIR``                                      the users and their roles

Roles: admin, analyst, agreements, ranger, verifier, jurisdiction, public (``docs/security.md``: who may do what).
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from icam.cli.errors import fail_cleanly
from icam.cli.options import DirArg, UrlOpt, console, project_session

users_app = typer.Typer(add_completion=False, no_args_is_help=True,
                        help="Users of the web app (icam serve): add, API tokens, list.")
EmailOpt = Annotated[str, typer.Option("--email", help="The user's e-mail address (their login).")]


def _cli_identity():
    from icam.web.accounts import Identity

    return Identity(f"cli:{getpass.getuser()}", "admin")


@users_app.command("add")
@fail_cleanly
def add(
    project_dir: DirArg,
    email: EmailOpt,
    role: Annotated[str, typer.Option("--role", help="admin, analyst, agreements, ranger, verifier, "
                                                     "jurisdiction or public.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                 help="Read the password from standard input (first line).")] = False,
    url: UrlOpt = None,
) -> None:
    """Add a user with one role in this project (the password from standard input, never the command line)."""
    from icam.core.errors import InputError
    from icam.web.accounts import add_user, check_new_user

    if not password_stdin:
        raise InputError("give the password on standard input with --password-stdin",
                         "e.g. printf '%s\\n' \"$PASSWORD\" | icam users add DIR --email E --role R --password-stdin")
    password = sys.stdin.readline().rstrip("\r\n")
    check_new_user(email, role, password)  # before the database is opened (or made): a refusal leaves no file
    with project_session(project_dir, url, create=True) as session:
        user = add_user(session, email, role, password, _cli_identity())
        console.print(f"added {user.email} as {user.role}")


@users_app.command("token")
@fail_cleanly
def token(project_dir: DirArg, email: EmailOpt, url: UrlOpt = None) -> None:
    """Print a new API token for the user (an earlier token stops working)."""
    from icam.web.accounts import find_user, new_api_token

    with project_session(project_dir, url) as session:
        secret = new_api_token(session, find_user(session, email), _cli_identity())
    print(secret)


@users_app.command("list")
@fail_cleanly
def list_(project_dir: DirArg = Path("."), url: UrlOpt = None) -> None:
    """The project's users and their roles."""
    from icam.web.accounts import users

    with project_session(project_dir, url) as session:
        table = Table("e-mail", "role", "active", "since")
        for user in users(session):
            table.add_row(user.email, user.role, "yes" if user.active else "no", user.created_at[:10])
    console.print(table)
