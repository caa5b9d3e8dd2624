"""Engine, sessions and migrations of icam's registry database.

Where the database is, first match wins:

1. an explicit URL (``--url`` on the command line), e.g. ``postgresql+psycopg://user:pw@host/db``;
2. the environment variable ``ICAM_DATABASE_URL``;
3. the SQLite file ``PROJECT/.icam/ledger.sqlite`` of a project folder (or any ``.sqlite`` path given).

SQLite is opened with foreign keys on, the write-ahead log (WAL) and ``synchronous=FULL`` (a
committed transaction survives a crash of the process and of the machine), and transactions that
start with a plain ``BEGIN`` emitted by SQLAlchemy rather than by Python's sqlite3 module, so that
savepoints work (SQLAlchemy's documented pysqlite recipe). A ``postgresql://`` URL is read as
``postgresql+psycopg://`` (psycopg 3).

The schema is made by the Alembic migrations in ``icam/store/migrations``; :func:`upgrade` runs them
from Python, so no ``alembic.ini`` is needed at run time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Session

from icam.core.errors import IcamError

DATABASE_URL_ENV = "ICAM_DATABASE_URL"
LEDGER_FILE = Path(".icam") / "ledger.sqlite"
MIGRATIONS = "icam.store:migrations"
SQLITE_TIMEOUT_S = 30.0  # how long a writer waits for another writer's lock before giving up


NAMING_CONVENTION = {  # constraint names the migrations spell out too; check constraints are named by hand
    "pk": "pk_%(table_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ix": "ix_%(table_name)s_%(column_0_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every icam table (the ledger's today; agreements and enforcement later)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def database_url(project_dir: Path | str | None = None, url: str | None = None) -> str:
    """The database URL: ``url`` if given, else ``$ICAM_DATABASE_URL``, else ``PROJECT_DIR/.icam/ledger.sqlite``."""
    if url:
        return _normalise(url)
    env = os.environ.get(DATABASE_URL_ENV, "").strip()
    if env:
        return _normalise(env)
    if project_dir is None:
        raise IcamError("no ledger database named",
                        f"give a project folder, --url, or set {DATABASE_URL_ENV}")
    return sqlite_url(Path(project_dir) / LEDGER_FILE)


def sqlite_url(path: Path | str) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return "sqlite+pysqlite:///" + Path(path).expanduser().resolve().as_posix()


def _normalise(url: str) -> str:
    url = url.strip()
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    if "://" not in url:  # a bare path to a SQLite file
        return sqlite_url(url)
    return url


def redacted(url: str) -> str:
    """``url`` with its password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def make_engine(url: str | Path) -> Engine:
    """An engine for ``url`` (a URL, or a SQLite file's path); SQLite gets WAL, foreign keys and working savepoints."""
    if isinstance(url, Path):
        url = sqlite_url(url)
    url = _normalise(url)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise IcamError(f"not a database URL: {url!r} ({exc})",
                        "use postgresql+psycopg://user:password@host/database or a SQLite file path") from None
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, connect_args={"timeout": SQLITE_TIMEOUT_S})
        in_memory = parsed.database in (None, "", ":memory:")

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection, _record):
            # Python's sqlite3 would issue BEGIN itself (and not before SAVEPOINT); let SQLAlchemy do it.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk when it returns (NORMAL in WAL mode may lose the last commits on power loss).
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection):
            connection.exec_driver_sql("BEGIN")

        return engine
    try:
        return create_engine(parsed, pool_pre_ping=True)
    except (ArgumentError, ImportError) as exc:
        raise IcamError(f"cannot use the database {redacted(url)} ({exc})",
                        "icam supports SQLite and PostgreSQL (postgresql+psycopg://...)") from None


def _alembic_config(connection=None):
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration's revision id."""

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's migration revision, or None where it has no icam schema yet."""

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the Alembic migrations up to ``revision`` in one transaction (an empty database gets the whole schema)."""

    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Undo migrations down to ``revision`` (``"base"``: drop every icam table, and its data)."""

    with engine.begin() as connection:
        command.downgrade(_alembic_config(connection), revision)


def open_engine(project_dir: Path | str | None = None, url: str | None = None, *, create: bool = False) -> Engine:
    """The engine of a project's ledger database, checked to be reachable and at the newest schema.

    With ``create`` the SQLite file (and its folder) is created where missing and the migrations
    are run; without it a missing database or an old schema is an :class:`IcamError`.
    """
    resolved = database_url(project_dir, url)
    parsed = make_url(resolved)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        if not path.exists():
            if not create:
                raise IcamError(f"no ledger at {path}", "issue credits first (icam ledger issue), or give --url")
            path.parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(resolved)
    try:
        revision = current_revision(engine)
        if create:
            if revision != head_revision():
                upgrade(engine)
        elif revision is None:
            raise IcamError(f"no ledger in {redacted(resolved)} (no icam tables)",
                            "issue credits first (icam ledger issue), or run icam ledger upgrade")
        elif revision != head_revision():
            raise IcamError(f"the ledger in {redacted(resolved)} has schema {revision}, "
                            f"this icam needs {head_revision()}",
                            "run icam ledger upgrade (back up the database first)")
    except SQLAlchemyError as exc:
        engine.dispose()
        first_line = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0]
        raise IcamError(f"cannot open the ledger database {redacted(resolved)}: {first_line}",
                        "check the URL, that the server runs and that the user may connect") from None
    except IcamError:
        engine.dispose()
        raise
    return engine


def has_table(engine: Engine, name: str) -> bool:
    """Whether the database holds table ``name``."""
    return inspect(engine).has_table(name)


@contextmanager
def session(engine: Engine) -> Iterator[Session]:
    """A session in one transaction: committed when the block ends normally, rolled back on any exception.

    Ledger operations called inside it join this transaction (as savepoints), so several of them
    commit together or not at all.
    """
    with Session(engine) as db_session, db_session.begin():
        yield db_session


@contextmanager
def open_session(project_dir: Path | str | None = None, url: str | None = None, *,
                 create: bool = False) -> Iterator[Session]:
    """The project's database as one transaction: opened (see :func:`open_engine`), committed when the
    block ends normally, rolled back on any exception, and the engine disposed of either way.

    The one way icam's commands and stages reach the registry and the ledger.
    """
    engine = open_engine(project_dir, url, create=create)
    try:
        with session(engine) as db_session:
            yield db_session
    finally:
        engine.dispose()
