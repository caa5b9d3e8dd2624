"""The web app's users, their credentials and the audit log of writes (migration 0005 creates the tables).

Passwords are stored as argon2id hashes (argon2-cffi's defaults, RFC 9106's second recommended setting).
A credential is a random token of 256 bits (:func:`secrets.token_urlsafe`) given once to its holder; the
database keeps only its SHA-256, so a copy of the database lets nobody log in. Browser sessions expire
after :data:`SESSION_HOURS`; API tokens (``icam users token``) last until a new one replaces them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from icam.core.errors import InputError
from icam.ledger.audit import utc_now
from icam.store.db import Base
from icam.web.roles import ROLES

SESSION_HOURS = 12
MIN_PASSWORD = 12  # characters; OWASP ASVS 2.1.1
MAX_PASSWORD = 128  # ASVS 2.1.2: at least 64 allowed
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_hasher = PasswordHasher()
# verified against when the e-mail is unknown, so that a wrong e-mail costs as long as a wrong password
_DUMMY_HASH = _hasher.hash("not a password of anyone's")


class User(Base):
    """A person with one ``role`` in this project (:data:`icam.web.roles.ROLES`)."""

    __tablename__ = "web_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[str] = mapped_column(String(40))

    __table_args__ = (CheckConstraint(f"role IN ({', '.join(repr(r) for r in ROLES)})", name="ck_web_users_role"),)


class Credential(Base):
    """A browser session (with its CSRF token) or an API token, by the SHA-256 of its secret."""

    __tablename__ = "web_credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    csrf: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[str] = mapped_column(String(40))
    expires_at: Mapped[str | None] = mapped_column(String(40))

    user: Mapped[User] = relationship()


class AuditRecord(Base):
    """One write made through the web app: who (``actor``, their ``role``), when (UTC), what and on what."""

    __tablename__ = "web_audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[str | None] = mapped_column(Text)


@dataclass(frozen=True)
class Identity:
    """Who is asking: an e-mail and a role (``public`` and no e-mail for an anonymous visitor); ``csrf``: the
    session's CSRF token (None for API tokens, which are not sent by browsers on their own)."""

    email: str | None
    role: str
    csrf: str | None = None
    credential_id: int | None = None


def digest(token: str) -> str:
    """The SHA-256 of a token, as stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _email(value: str) -> str:
    email = value.strip().lower()
    if not _EMAIL.match(email) or len(email) > 254:
        raise InputError(f"{value!r} is not an e-mail address", "give one such as name@example.org")
    return email


def check_password(password: str) -> str:
    """``password`` if long enough and not too long (ASVS 2.1.1, 2.1.2), else :class:`InputError`."""
    if len(password) < MIN_PASSWORD:
        raise InputError(f"the password has {len(password)} characters; at least {MIN_PASSWORD} are needed",
                         "choose a longer one (a phrase of several words is easy to remember)")
    if len(password) > MAX_PASSWORD:
        raise InputError(f"the password has more than {MAX_PASSWORD} characters", "choose a shorter one")
    return password


def check_new_user(email: str, role: str, password: str) -> str:
    """The e-mail, normalised, if ``email``, ``role`` and ``password`` can make a user; else :class:`InputError`."""
    email = _email(email)
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}", f"use one of {', '.join(ROLES)}")
    check_password(password)
    return email


def add_user(session: Session, email: str, role: str, password: str, by: Identity) -> User:
    """A new user (added by ``by``, in the audit log), or :class:`InputError` for a taken e-mail, an unknown role
    or a short password."""
    email = check_new_user(email, role, password)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise InputError(f"{email} is already a user of this project", "give another e-mail")
    user = User(email=email, role=role, password_hash=_hasher.hash(password), created_at=utc_now())
    session.add(user)
    session.flush()
    record(session, by, "user.add", email, {"role": role})
    return user


def find_user(session: Session, email: str) -> User:
    """The active user with ``email``, or :class:`InputError`."""
    user = session.scalar(select(User).where(User.email == email.strip().lower(), User.active.is_(True)))
    if user is None:
        raise InputError(f"no user {email.strip()!r} in this project", "add one with icam users add")
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user whose e-mail and password match, else None (in about the same time either way)."""
    user = session.scalar(select(User).where(User.email == email.strip().lower(), User.active.is_(True)))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def new_session(session: Session, user: User) -> tuple[str, str]:
    """A browser session for ``user``: its secret (the cookie) and its CSRF token."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires = (_now() + dt.timedelta(hours=SESSION_HOURS)).isoformat(timespec="seconds")
    session.add(Credential(user_id=user.id, kind="session", token_sha256=digest(token), csrf=csrf,
                           created_at=utc_now(), expires_at=expires))
    return token, csrf


def new_api_token(session: Session, user: User, by: Identity) -> str:
    """A new API token for ``user`` (made by ``by``), replacing any earlier one (which stops working)."""
    session.execute(delete(Credential).where(Credential.user_id == user.id, Credential.kind == "api"))
    token = secrets.token_urlsafe(32)
    session.add(Credential(user_id=user.id, kind="api", token_sha256=digest(token), created_at=utc_now()))
    record(session, by, "user.token", user.email, None)
    return token


def identify(session: Session, token: str, kind: str) -> Identity | None:
    """Who holds ``token`` (a session cookie or an API token), or None where it is unknown, expired or its user
    is no longer active."""
    credential = session.scalar(select(Credential).where(Credential.token_sha256 == digest(token),
                                                         Credential.kind == kind))
    if credential is None or not credential.user.active:
        return None
    if credential.expires_at is not None and dt.datetime.fromisoformat(credential.expires_at) < _now():
        return None
    return Identity(credential.user.email, credential.user.role, credential.csrf, credential.id)


def end_session(session: Session, credential_id: int) -> None:
    """Log out: the session's credential is deleted, so its cookie is worthless from now on (ASVS 3.3.1)."""
    session.execute(delete(Credential).where(Credential.id == credential_id, Credential.kind == "session"))


def record(session: Session, who: Identity, action: str, target: str | None, detail: dict | None) -> AuditRecord:
    """Write one line of the audit log in the caller's transaction (so it lands with the write it describes)."""
    entry = AuditRecord(at=utc_now(), actor=who.email or "anonymous", role=who.role, action=action,
                        target=target, detail=None if detail is None else json.dumps(detail, default=str,
                                                                                       ensure_ascii=False))
    session.add(entry)
    session.flush()
    return entry


def users(session: Session) -> list[User]:
    """Every user, by e-mail."""
    return list(session.scalars(select(User).order_by(User.email)))


def audit_log(session: Session, limit: int = 200) -> list[AuditRecord]:
    """The newest ``limit`` lines of the web app's audit log, newest first."""
    return list(session.scalars(select(AuditRecord).order_by(AuditRecord.id.desc()).limit(limit)))


__all__ = ["AuditRecord", "Credential", "Identity", "MIN_PASSWORD", "SESSION_HOURS", "User", "add_user",
           "audit_log", "authenticate", "check_new_user", "check_password", "digest", "end_session", "find_user",
           "identify",
           "new_api_token", "new_session", "record", "users"]
