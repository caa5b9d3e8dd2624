"""Writing an import's rows: one transaction (or a savepoint of the caller's), the database's refusals as one
line, and the codes and keys the registry already holds (for references and duplicates)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import insert, select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from icam.core.errors import InputError


def in_transaction(session: Session, work: Callable[[], Any]) -> Any:
    """Run ``work`` in a savepoint of the session's transaction, or in a transaction of its own (committed)."""
    if session.in_transaction():
        with session.begin_nested():
            return work()
    with session.begin():
        return work()


def guarded(path: Path, work: Callable[[], Any]) -> Any:
    """Run ``work``; a row the database refuses (a constraint, a value too long) is an :class:`InputError`."""
    try:
        return work()
    except (IntegrityError, DataError) as exc:
        detail = str(exc.orig).strip().splitlines()[0][:120] if exc.orig else str(exc)[:120]
        raise InputError(f"{Path(path).name}: the registry refused the rows ({detail})",
                         "nothing was imported; check for rows added meanwhile and import again") from None


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts of Python values (dates as datetime.date, missing as None) for the database driver."""
    out = frame.copy()
    for name in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[name]):
            out[name] = out[name].dt.date
    out = out.astype(object)
    return out.where(out.notna(), None).to_dict("records")


def insert_rows(session: Session, model, frame: pd.DataFrame) -> int:
    """Insert ``frame``'s rows into ``model``'s table (one statement); returns how many."""
    if len(frame):
        session.execute(insert(model), records(frame))
    return len(frame)


def codes(session: Session, model) -> dict[str, int]:
    """``code`` → ``id`` of every row of ``model``'s table."""
    return {code: id_ for code, id_ in session.execute(select(model.code, model.id))}


def existing_keys(session: Session, statement, columns: list[str], keys: list[str]) -> set[str]:
    """The :func:`key_strings` of ``keys`` over the rows of ``statement`` (its columns named ``columns``)."""
    frame = pd.DataFrame(session.execute(statement).all(), columns=columns)
    for name in columns:
        if frame[name].map(lambda v: isinstance(v, dt.date)).any():
            frame[name] = pd.to_datetime(frame[name])
    return set(key_strings(frame, keys)) if len(frame) else set()


def key_strings(frame: pd.DataFrame, keys: list[str]) -> pd.Series:
    """One text key per row from ``keys`` (dates as ISO, numbers as %.10g), for matching against the registry."""
    parts = [_canonical_text(frame[k]) for k in keys]
    key = parts[0]
    for part in parts[1:]:
        key = key + "\x1f" + part
    return key


def _canonical_text(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.strftime("%Y-%m-%d").fillna("")
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype("float64").map(lambda v: "" if np.isnan(v) else f"{v:.10g}")
    return values.astype(object).where(values.notna(), "").astype(str)


__all__ = ["codes", "existing_keys", "guarded", "in_transaction", "insert_rows", "key_strings", "records"]
