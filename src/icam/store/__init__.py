"""Registry data in a relational database: engine, sessions and Alembic migrations (:mod:`icam.store.db`).

A project's registries (today the credit ledger, :mod:`icam.ledger`) live in a SQLite file
``PROJECT/.icam/ledger.sqlite`` by default, or in PostgreSQL named by ``ICAM_DATABASE_URL`` or an
explicit URL. The schema is created and upgraded by the Alembic migrations in
``icam/store/migrations``, run from Python by :func:`icam.store.db.upgrade` (no ``alembic.ini``).
"""

from icam.store.db import (
                           DATABASE_URL_ENV,
                           LEDGER_FILE,
                           Base,
                           current_revision,
                           database_url,
                           downgrade,
                           head_revision,
                           make_engine,
                           open_engine,
                           open_session,
                           session,
                           upgrade,
)

__all__ = ["Base", "DATABASE_URL_ENV", "LEDGER_FILE", "current_revision", "database_url", "downgrade",
           "head_revision", "make_engine", "open_engine", "open_session", "session", "upgrade"]
