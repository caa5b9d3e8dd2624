"""The web app's dependencies: the database session, who is asking, what they may do, CSRF and login limits.

Who is asking: an ``Authorization: Bearer`` API token (``icam users token``), else the session cookie, else
the anonymous ``public``. A bad or expired bearer token is a 401 (a script should hear it); a stale cookie
is only anonymous (the browser is sent to the login page when a page needs more).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import Depends, HTTPException, Request
from sqlalchemy import text
from sqlalchemy.orm import Session

from icam.web.accounts import Identity, identify
from icam.web.roles import PUBLIC, allows, writes

SESSION_COOKIE = "icam_session"
LANG_COOKIE = "icam_lang"
LOGIN_CSRF_COOKIE = "icam_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_SQLITE_WRITERS = threading.Lock()  # this process's writers to SQLite, one at a time (see writing)


def db(request: Request) -> Iterator[Session]:
    """A read session for one request (rolled back at its end: reads never write)."""
    with Session(request.app.state.engine) as session:
        yield session


@contextmanager
def writing(request: Request) -> Iterator[Session]:
    """A session whose transaction commits when the block ends (before the response is sent), or rolls back.

    On SQLite the transaction takes the database's write lock first thing (waiting its turn behind other
    writers): a write that read first and then found the database changed by another writer would fail at
    once (SQLITE_BUSY_SNAPSHOT) instead of waiting. The server's own writers first queue on a lock of the
    process: SQLite's busy handler only polls (every 100 ms at most), so among many writers one could miss
    every turn for its whole timeout and fail with "database is locked". PostgreSQL locks the rows written."""
    engine = request.app.state.engine
    if engine.dialect.name != "sqlite":
        with Session(engine) as session, session.begin():
            yield session
        return
    with _SQLITE_WRITERS, Session(engine) as session, session.begin():
        session.execute(text("UPDATE web_users SET id = id WHERE 0 = 1"))
        yield session


def identity(request: Request, session: Session = Depends(db)) -> Identity:
    """Who is asking (:class:`~icam.web.accounts.Identity`); ``public`` when nobody logged in.

    The read transaction of the look-up ends here, so the request's connection goes back to the pool before
    the route runs: a write route that held it while waiting for its :func:`writing` connection would, under
    load, leave every connection of the pool held by a request waiting for another (each then a 500)."""
    try:
        return _identity(request, session)
    finally:
        session.rollback()


def _identity(request: Request, session: Session) -> Identity:
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        who = identify(session, token.strip(), "api") if scheme.lower() == "bearer" and token.strip() else None
        if who is None:
            raise HTTPException(401, "the API token is not valid (ask for a new one: icam users token)",
                                headers={"WWW-Authenticate": "Bearer"})
        return who
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        who = identify(session, cookie, "session")
        if who is not None:
            return who
    return Identity(None, PUBLIC)


def _csrf_token(request: Request, form) -> str | None:
    return request.headers.get(CSRF_HEADER) or (form.get(CSRF_FIELD) if form is not None else None)


def require(permission: str):
    """The dependency of a route that needs ``permission``: the caller's identity, or 401 (anonymous) / 403
    (a role without it). A write asked for with a session cookie must carry the session's CSRF token
    (form field ``csrf_token`` or header ``X-CSRF-Token``), else 403."""

    async def check(request: Request, who: Identity = Depends(identity)) -> Identity:
        if not allows(who.role, permission):
            if who.email is None:
                raise HTTPException(401, "log in first", headers={"WWW-Authenticate": "Bearer"})
            raise HTTPException(403, f"the role {who.role} may not do this ({permission})")
        if writes(permission) and who.csrf is not None:
            content_type = request.headers.get("content-type", "")
            form = await request.form() if content_type.startswith(("multipart/", "application/x-www")) else None
            token = _csrf_token(request, form)
            if not token or not secrets.compare_digest(str(token), who.csrf):
                raise HTTPException(403, "the form's security token is missing or stale: reload the page")
        return who

    check.permission = permission  # read by the tests and the docs: every route names one permission
    return Depends(check)


class LoginLimiter:
    """At most ``max_failures`` failed logins per client address and per e-mail within ``window_s`` seconds
    (OWASP ASVS 2.2.1); the next attempt is refused until the oldest failure leaves the window."""

    def __init__(self, max_failures: int = 5, window_s: float = 900.0) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures[key]
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        return failures

    def retry_after_s(self, *keys: str) -> int:
        """Seconds until a login for ``keys`` may be tried again (0: now)."""
        now = time.monotonic()
        with self._lock:
            waits = [self._recent(k, now)[0] + self.window_s - now for k in keys
                     if len(self._recent(k, now)) >= self.max_failures]
        return int(max(waits)) + 1 if waits else 0

    def failed(self, *keys: str) -> None:
        """Count one failed login against each of ``keys``."""
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)


__all__ = ["CSRF_FIELD", "CSRF_HEADER", "LANG_COOKIE", "LOGIN_CSRF_COOKIE", "LoginLimiter", "SESSION_COOKIE", "db",
           "identity", "require", "writing"]
