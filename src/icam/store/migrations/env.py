"""Alembic environment of icam's registry database.

Run from Python by :func:`icam.store.db.upgrade`, which passes an open connection in
``config.attributes["connection"]``. For the ``alembic`` command line, give the database as
``alembic -x url=postgresql+psycopg://... upgrade head`` (or set ``ICAM_DATABASE_URL``).
"""

from __future__ import annotations

import os

from alembic import context

import icam.agreements.models  # noqa: F401 - registers the agreements registry's tables on Base.metadata
import icam.enforcement.models  # noqa: F401 - registers the enforcement tables (alerts, patrols) on Base.metadata
import icam.ledger.models  # noqa: F401 - registers the ledger tables on Base.metadata
from icam.store.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get("ICAM_DATABASE_URL")
    if not url:
        raise SystemExit("give the database: alembic -x url=... or ICAM_DATABASE_URL")
    return url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=target_metadata)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
