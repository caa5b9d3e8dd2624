"""All-or-nothing form importers: the one reader of the CSV files, ODK / KoboToolbox exports and attribute tables
that icam imports (the agreements and enforcement registries, the reference samples).

Reading (:func:`read_csv`): UTF-8, UTF-8 with a BOM, UTF-16 with a BOM (Excel's "Unicode text"), else
Windows-1252 / Latin-1 (what Excel writes as plain "CSV" on a Spanish Windows), detected from the bytes;
separators ``,`` ``;`` or tab, sniffed from the header (Excel's ``sep=;`` first line is honoured); CRLF, CR
or LF line ends. Every cell is read as stripped text; the index is the row as a spreadsheet shows it
(header = row 1), and blank lines are dropped but keep their numbers.

Columns (:class:`Col`, :func:`match_columns`): each has a name, other names it may go by, and a type.
ODK group prefixes are dropped (``group_a/household_id`` and ODK Central's ``group_a-household_id`` read
as ``household_id``), the forms' metadata (Kobo's ``_uuid``, ``_submission_time``..., ``meta/instanceID``,
``formhub/uuid``, ``start``, ``end``, ODK Central's ``KEY``, ``SubmissionDate``...) is ignored, and a
name cut to 10 characters by a Shapefile's DBF (``household_`` for ``household_id``) is mapped.

Cells (:class:`Rows`): text, int, float, date (ISO 8601 or day first, :mod:`icam.store.dates`), datetime
(ISO 8601, converted to naive UTC), bool (yes/no, true/false, 1/0, sí/si), choice, list. Numbers take a
decimal point, or decimal commas where the file's numbers use them (Excel es-PE / es-ES exports: ``3,5``,
``1.234,5``). Every problem is a :class:`RowError` with its row, column, value, what is wrong and how to
fix it; :class:`FormImportError` raises them all at once, in one line, and writes them as the errors CSV.
Nothing is written to the registry then: the importers check every row first and insert in one transaction
(:mod:`icam.store.writes`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from icam.core.atomic import atomic_path
from icam.core.errors import InputError
from icam.store.dates import DATE_FIX, parse_dates
from icam.store.writes import key_strings

DBF_NAME_LENGTH = 10  # a Shapefile's attribute names are cut to 10 characters
SEPARATORS = (",", ";", "\t")
LINE_VALUE_CHARS = 40  # the most characters of a cell quoted in the one-line message
_BOOLEANS = {"yes": True, "no": False, "true": True, "false": False, "1": True, "0": False, "y": True, "n": False,
             "si": True, "sí": True, "1.0": True, "0.0": False}
_META_GROUPS = ("meta", "formhub")
_META_NAMES = {"start", "end", "today", "deviceid", "username", "simserial", "subscriberid", "phonenumber", "audit",
               "__version__", "instanceid", "instancename"}
_CENTRAL_META = {"SubmissionDate", "KEY", "PARENT_KEY", "SubmitterID", "SubmitterName", "AttachmentsPresent",
                 "AttachmentsExpected", "Status", "ReviewState", "DeviceID", "Edits", "FormVersion"}
# a number with a decimal comma and optional thousands dots (1.234,5), or one with a decimal point and optional
# thousands commas (1,234.5)
_COMMA_NUMBER = re.compile(r"^[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?$")
_POINT_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?$")
_DECIMAL_COMMA = re.compile(r"^[+-]?[\d.]*\d,\d+$")


# -- reading files ----------------------------------------------------------------------------------------------


def decode(data: bytes) -> tuple[str, str]:
    """The text of a file's bytes and the encoding it was read in: UTF-16 or UTF-8 by their BOM, else UTF-8 if
    it decodes, else Windows-1252 (Latin-1 where a byte is undefined in Windows-1252)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def sniff_separator(header: str) -> str:
    """The separator of a CSV header line: the most frequent of ``,`` ``;`` tab outside quotes (``,`` if none)."""
    bare = re.sub(r'"[^"]*"', "", header)
    counts = {sep: bare.count(sep) for sep in SEPARATORS}
    best = max(SEPARATORS, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def read_csv(path: Path | str, what: str = "") -> pd.DataFrame:
    """Every cell of a CSV file as stripped text; index = the row as a spreadsheet numbers it (header = 1),
    blank rows dropped. ``frame.attrs`` holds the ``encoding`` and ``separator`` found. ``what`` (e.g.
    ``"samples: "``) prefixes the messages. Raises :class:`InputError` for a file that is missing, not text,
    cannot be parsed, or holds a header and no row."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what}{path} {'is a folder' if path.is_dir() else 'does not exist'}",
                         "give the path of the CSV file")
    data = path.read_bytes()
    if data.startswith(b"PK\x03\x04") or (b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff"))):
        raise InputError(f"{what}{path.name} is not a text CSV file (a spreadsheet workbook or a binary file?)",
                         "save it as CSV from the spreadsheet (File > Save as > CSV)")
    text, encoding = decode(data)
    first = text.splitlines(keepends=True)[0] if text else ""
    given = re.fullmatch(r"\s*sep=(.)\s*", first)
    if given:  # Excel's hint line: the separator, and the header on the next line
        text, sep = text[len(first):], given.group(1)
    else:
        sep = sniff_separator(first)
    try:  # the header read as a row: a data row longer than it is an error, not an index column
        cells = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skip_blank_lines=False, sep=sep,
                            header=None)
    except pd.errors.EmptyDataError:
        raise InputError(f"{what}{path.name} is empty", "give the file with its header row and data") from None
    except pd.errors.ParserError as exc:
        reason = " ".join(str(exc).split()).replace("Error tokenizing data. C error: ", "")[:120]
        raise InputError(f"{what}{path.name} cannot be read as CSV ({reason})",
                         "check the separators and quotes on the line named") from None
    cells = cells.fillna("").astype(object).apply(lambda column: column.astype(str).str.strip())
    frame = _table(cells, path, what)
    frame.attrs.update(encoding=encoding, separator=sep)
    return frame


def _table(cells: pd.DataFrame, path: Path, what: str) -> pd.DataFrame:
    """The data rows of a CSV read with its header as row 0; index = spreadsheet row (header = 1)."""
    header = cells.iloc[0].tolist()
    frame = cells.iloc[1:].copy()
    frame.columns = header
    frame.index = pd.RangeIndex(2, len(frame) + 2, name="row")
    unnamed = [k for k, name in enumerate(header) if name == ""]
    if any((frame.iloc[:, k] != "").any() for k in unnamed):
        k = next(k for k in unnamed if (frame.iloc[:, k] != "").any())
        raise InputError(f"{what}{path.name}: column {k + 1} has values but no name in the header",
                         "give it a name in the first row, or delete it")
    frame = frame.iloc[:, [k for k in range(len(header)) if k not in unnamed]]  # Excel's trailing empty columns
    repeated = sorted({name for name in frame.columns if list(frame.columns).count(name) > 1})
    if repeated:
        raise InputError(f"{what}{path.name}: the header names column {repeated[0]!r} twice",
                         "rename or delete one of them")
    frame = frame[(frame != "").any(axis=1)]
    if not len(frame):
        raise InputError(f"{what}{path.name} holds a header and no row", "give the file with its data rows")
    return frame


def text_table(frame: pd.DataFrame) -> pd.DataFrame:
    """An attribute table (a vector file's, without its geometry) as stripped text; index = feature 1, 2, ..."""
    text = frame.astype(object).where(frame.notna(), "").apply(lambda c: c.astype(str).str.strip())
    text.index = pd.RangeIndex(1, len(text) + 1, name="row")
    return text


# -- columns ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Col:
    """A column of an import file: its type (text, int, float, date, datetime, bool, choice, list), whether it is
    required, its default, allowed values (and ``synonyms`` mapped onto them), bounds (numbers inclusive;
    ``positive``: > 0; dates: ``earliest``; ``past``: not after today, or this year for numbers), other names
    it may have, and the longest text it takes."""

    name: str
    type: str = "text"
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    positive: bool = False
    earliest: dt.date | None = None
    past: bool = False
    aliases: tuple[str, ...] = ()
    length: int | None = 200  # the most characters a text holds (the database column's size)
    synonyms: Mapping[str, str] = field(default_factory=dict)

    @property
    def numeric(self) -> bool:
        """Whether the column holds numbers (int or float)."""
        return self.type in ("int", "float")


def canonical_name(name: str) -> str:
    """A column name without its ODK group prefix, lower case, spaces as ``_``."""
    last = re.split(r"[/\-]", name.strip())[-1]
    return re.sub(r"\s+", "_", last.strip().lower())


def is_meta(name: str, central: bool) -> bool:
    """Whether a column is a form's metadata (Kobo's ``_...``, ``meta/...``, ODK Central's with ``central``)."""
    parts = re.split(r"[/\-]", name.strip())
    return (name.startswith("_") or parts[0].lower() in _META_GROUPS or canonical_name(name) in _META_NAMES
            or (central and name in _CENTRAL_META))


def reference_column(columns: list[str]) -> str | None:
    """The column holding a form submission's id: Kobo's _uuid, else the instanceID, else ODK Central's KEY."""
    for wanted in ("_uuid", "instanceid", "KEY"):
        for name in columns:
            if name == wanted or (wanted == "instanceid" and canonical_name(name) == "instanceid"):
                return name
    return None


def _target(name: str, aliases: Mapping[str, str]) -> str | None:
    canonical = canonical_name(name)
    if canonical in aliases:
        return aliases[canonical]
    if len(canonical) == DBF_NAME_LENGTH:  # cut by a Shapefile: map it when one column's names start with it
        targets = {target for alias, target in aliases.items() if alias.startswith(canonical)}
        if len(targets) == 1:
            return targets.pop()
    return None


def match_columns(path: Path, cols: Iterable[Col], columns: list[str], *, reference: str | None = None,
                  what: str = "") -> tuple[dict[str, str], tuple[str, ...]]:
    """Map a file's ``columns`` to ``cols``' names: (renames, ignored columns that are not form metadata).
    ``reference``: a column that takes the submission's id (:func:`reference_column`) when the file lacks it.
    Raises :class:`InputError` when two columns give one name or a required column is missing."""
    cols = tuple(cols)
    aliases = {a: c.name for c in cols for a in (c.name, *c.aliases)}
    central = {"SubmissionDate", "KEY"} <= set(columns)
    renames: dict[str, str] = {}
    ignored = []
    for name in columns:
        if is_meta(name, central):
            continue
        target = _target(name, aliases)
        if target is None:
            ignored.append(name)
        elif target in renames.values():
            other = next(k for k, v in renames.items() if v == target)
            raise InputError(f"{path.name}: columns {other!r} and {name!r} both give {target}",
                             "delete or rename one of them")
        else:
            renames[name] = target
    if reference is not None and reference not in renames.values():
        ref = reference_column(columns)
        if ref is not None:
            renames[ref] = reference
    required = [c.name for c in cols if c.required and c.name not in renames.values()]
    if required:
        shown = ", ".join(columns)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise InputError(f"{what}{path.name}: no column {', '.join(required)} (its columns: {shown or 'none'})",
                         f"add the column(s); the file takes {', '.join(c.name for c in cols)}")
    return renames, tuple(ignored)


# -- errors -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """One problem of an import file: the row (spreadsheet numbering, header = 1; for a vector file, feature 1
    is its first), the column, the value as written, what is wrong and how to fix it."""

    row: int
    column: str
    value: str
    problem: str
    fix: str


ERRORS_CSV_HINT = "nothing imported; every problem and its fix go to the errors CSV (--errors-csv FILE)"


class FormImportError(InputError):
    """A file with bad rows: nothing was imported. The message names how many rows and the first problem;
    ``errors`` holds every problem, :meth:`write` writes them as the errors CSV."""

    def __init__(self, path: Path | str, errors: list[RowError], n_rows: int, unit: str = "row") -> None:
        self.path = Path(path)
        self.errors = sorted(errors, key=lambda e: e.row)
        self.n_rows = n_rows
        self.unit = unit
        n_bad = len({e.row for e in self.errors})
        first = self.errors[0]
        problem = first.problem if len(first.problem) <= 100 else first.problem[:97] + "..."
        units = unit if n_rows == 1 else f"{unit}s"
        super().__init__(f"{self.path.name}: {n_bad} of {n_rows} {units} refused (first: {unit} {first.row}, "
                         f"column {first.column}: {problem})", ERRORS_CSV_HINT)

    def write(self, path: Path | str) -> Path:
        """Write every problem as CSV (file, row, column, value, problem, fix), atomically; returns ``path``."""
        with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["file", self.unit, "column", "value", "problem", "fix"])
            writer.writerows([str(self.path), e.row, e.column, e.value, e.problem, e.fix] for e in self.errors)
        return Path(path)


@contextmanager
def error_report(path: Path | None) -> Iterator[None]:
    """Let a :class:`FormImportError` raised inside go on, after writing its errors CSV to ``path`` (when
    given; the message then names it): what an import command's ``--errors-csv`` does."""
    try:
        yield
    except FormImportError as exc:
        if path is not None:
            exc.write(path)
            exc.hint = f"nothing imported; each problem and its fix: {path}"
        raise


# -- rows and cells ---------------------------------------------------------------------------------------------


def _shown(value: str) -> str:
    return value if len(value) <= LINE_VALUE_CHARS else value[:LINE_VALUE_CHARS - 3] + "..."


class Rows:
    """A file's rows being checked: ``raw`` (text cells, index = spreadsheet row), ``frame`` (parsed values)
    and the problems found so far."""

    def __init__(self, raw: pd.DataFrame, unit: str = "row") -> None:
        self.raw = raw
        self.frame = pd.DataFrame(index=raw.index)
        self.unit = unit
        self.errors: list[RowError] = []

    def flag(self, mask, column: str, problem: str | pd.Series, fix: str) -> None:
        """Record ``problem`` for the rows where ``mask`` is true: a format string of ``value`` (the cell as
        written, cut to 40 characters), or a Series of such strings, one per row."""
        mask = pd.Series(mask, index=self.frame.index).fillna(False).astype(bool)
        values = self.raw[column] if column in self.raw else pd.Series("", index=mask.index)
        for row in mask.index[mask.to_numpy()]:
            value = "" if pd.isna(values.loc[row]) else str(values.loc[row])
            text = problem.loc[row] if isinstance(problem, pd.Series) else problem
            self.errors.append(RowError(int(row), column, value, text.format(value=_shown(value)), fix))

    def unknown(self, column: str, known: Iterable[str], what: str, fix: str) -> pd.Series:
        """Flag values of ``column`` not in ``known``; returns the mask of rows whose value is known."""
        values = self.frame[column]
        bad = values.notna() & ~values.isin(list(known))
        self.flag(bad, column, "{value!r} is not " + what + " of the registry", fix)
        return values.notna() & ~bad

    def duplicates(self, keys: list[str], column: str, existing: set[str], same: str = "",
                   optional: tuple[str, ...] = ()) -> None:
        """Flag rows whose ``keys`` repeat an earlier row of the file, or a row of the registry (``existing``,
        see :func:`key_strings`); ``same`` says what matches, e.g. " (same agreement, item and date)"; rows
        missing a key not in ``optional`` are skipped."""
        key = key_strings(self.frame, keys)
        valid = self.frame[[k for k in keys if k not in optional]].notna().all(axis=1)
        rows = pd.Series(self.frame.index, index=self.frame.index, dtype="float64")
        first = rows.where(valid).groupby(key.where(valid)).transform("min")
        repeat = valid & (first < rows)
        earlier = f"{{value!r}} repeats {self.unit} " + first.fillna(0).astype(int).astype(str) + same
        self.flag(repeat, column, earlier, "keep one of the two rows")
        in_registry = valid & ~repeat & key.isin(existing)
        self.flag(in_registry, column, "{value!r} is already in the registry" + same,
                  "remove the row (it was imported before) or correct it")

    def parse(self, cols: Iterable[Col]) -> None:
        """Parse every column of ``cols`` into ``frame`` (missing columns as empty), flagging bad cells."""
        cols = tuple(cols)
        comma = decimal_comma(self.raw, [c.name for c in cols if c.numeric])
        for col in cols:
            raw = self.raw[col.name] if col.name in self.raw else pd.Series("", index=self.frame.index)
            blank = raw == ""
            if col.required:
                self.flag(blank, col.name, "is empty", f"fill in {col.name}")
            values = _PARSERS[col.type](self, col, raw.where(~blank), comma)
            if col.default is not None:
                values = values.where(~blank, col.default)
            self.frame[col.name] = values


def decimal_comma(frame: pd.DataFrame, columns: Iterable[str]) -> bool:
    """Whether the numbers of ``frame``'s text ``columns`` use decimal commas: some cell ends in a comma and
    digits (``3,5``, ``1.234,5``). One choice per file: spreadsheets export every number alike."""
    present = [c for c in columns if c in frame]
    return bool(present) and bool(frame[present].stack().astype(str).str.match(_DECIMAL_COMMA).any())


def numbers(raw: pd.Series, decimal_comma: bool) -> pd.Series:
    """Numbers of text cells (float64; NaN where empty or not a number). With ``decimal_comma`` a comma is the
    decimal mark and dots group thousands (``1.234,5``); otherwise a point is, and commas group thousands."""
    text = raw.astype(object).where(raw.notna(), "").astype(str)
    if decimal_comma:
        ok = text.str.match(_COMMA_NUMBER)
        text = text.where(ok, "x").str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        grouped = text.str.match(_POINT_THOUSANDS)
        text = text.where(~grouped, text.str.replace(",", "", regex=False))
    return pd.to_numeric(text.where(text != "", np.nan), errors="coerce").astype("float64")


def _as_text(rows: Rows, col: Col, raw: pd.Series, comma: bool) -> pd.Series:
    if col.length is not None:
        long = raw.str.len() > col.length
        rows.flag(long, col.name, f"is longer than {col.length} characters", "shorten it")
        raw = raw.where(~long.fillna(False))
    return raw.astype(object)


def _as_number(rows: Rows, col: Col, raw: pd.Series, comma: bool) -> pd.Series:
    values = numbers(raw, comma)
    if col.type == "int":
        example = "a whole number, e.g. 5"
    else:
        example = "a number, e.g. " + ("2,5 (the file uses decimal commas)" if comma else "2.5")
    rows.flag(raw.notna() & (values.isna() | np.isinf(values)), col.name, "{value!r} is not a number",
              f"write {example}")
    values = values.where(~np.isinf(values))
    if col.type == "int":
        fraction = values.notna() & (values != values.round())
        rows.flag(fraction, col.name, "{value!r} is not a whole number", "write a whole number, e.g. 5")
        values = values.where(~fraction)
    return _bounded(rows, col, values)


def _bounded(rows: Rows, col: Col, values: pd.Series) -> pd.Series:
    checks = []
    if col.minimum == 0:
        checks.append((values < 0, "{value!r} is negative", "write 0 or more"))
    elif col.minimum is not None:
        checks.append((values < col.minimum, "{value!r} is below " + f"{col.minimum:g}",
                       f"write {col.minimum:g} or more"))
    if col.positive:
        checks.append((values <= 0, "{value!r} is not above 0", "write a positive number"))
    maximum = dt.date.today().year if col.past else col.maximum
    if maximum is not None:
        checks.append((values > maximum, "{value!r} is above " + f"{maximum:g}", f"write {maximum:g} or less"))
    bad = pd.Series(False, index=values.index)
    for mask, problem, fix in checks:
        mask = mask & ~bad
        rows.flag(mask, col.name, problem, fix)
        bad |= mask
    values = values.where(~bad)
    return values.astype("Int64") if col.type == "int" else values


def _as_date(rows: Rows, col: Col, raw: pd.Series, comma: bool) -> pd.Series:
    values = parse_dates(raw)
    rows.flag(raw.notna() & values.isna(), col.name, "{value!r} is not a date", DATE_FIX)
    return _dated(rows, col, values, values)


def _dated(rows: Rows, col: Col, values: pd.Series, local_day: pd.Series) -> pd.Series:
    """Flag values before ``col.earliest`` and, with ``col.past``, those whose day as written is after today."""
    bad = pd.Series(False, index=values.index)
    if col.earliest is not None:
        bad = local_day < pd.Timestamp(col.earliest)
        rows.flag(bad, col.name, "{value!r} is before " + col.earliest.isoformat(), "check the year")
    if col.past:
        future = ~bad & (local_day.dt.normalize() > pd.Timestamp(dt.date.today()))
        rows.flag(future, col.name, "{value!r} is in the future", "check the date (YYYY-MM-DD) and the device's clock")
        bad |= future
    return values.where(~bad)


def _as_datetime(rows: Rows, col: Col, raw: pd.Series, comma: bool) -> pd.Series:
    """ISO 8601 times as naive UTC (an offset converted, none read as UTC); ``past`` is judged on the day as
    written (the device's local day)."""
    values = pd.to_datetime(raw, utc=True, errors="coerce", format="ISO8601")
    rows.flag(raw.notna() & values.isna(), col.name, "{value!r} is not a date and time",
              "write it as 2024-03-05T14:20:00-05:00 (ODK's dateTime) or 2024-03-05 14:20")
    local_day = pd.to_datetime(raw.str.slice(0, 10).where(values.notna()), format="%Y-%m-%d", errors="coerce")
    return _dated(rows, col, values.dt.tz_convert(None), local_day)


def _as_bool(rows: Rows, col: Col, raw: pd.Series, comma: bool) -> pd.Series:
    values = raw.str.lower().map(_BOOLEANS)
    rows.flag(raw.notna() & values.isna(), col.name, "{value!r} is not yes or no", "write yes or no")
    return values.astype(object)


def _as_choice(rows: Rows, col: Col, raw: pd.Series, comma: bool) -> pd.Series:
    values = raw.str.lower().str.strip().str.replace(r"[\s\-]+", "_", regex=True)
    if col.synonyms:
        values = values.replace(dict(col.synonyms))
    bad = raw.notna() & ~values.isin(col.choices)
    choices = ", ".join(col.choices)
    rows.flag(bad, col.name, "{value!r} is not one of " + choices, f"write one of {choices}")
    return values.where(~bad).astype(object)


def _as_list(rows: Rows, col: Col, raw: pd.Series, comma: bool) -> pd.Series:
    """';'-separated values (or ODK select_multiple's space-separated ones) as tuples."""
    items = raw.fillna("").str.lower().str.split(r"[;,\s]+", regex=True).map(lambda xs: tuple(x for x in xs if x))
    unknown = items.map(lambda xs: ", ".join(x for x in xs if x not in col.choices))
    rows.flag(unknown != "", col.name, "{value!r} holds an unknown value",
              f"separate with ';' values among {', '.join(col.choices)}")
    return items.where(unknown == "").astype(object)


_PARSERS: dict[str, Callable[[Rows, Col, pd.Series, bool], pd.Series]] = {
    "text": _as_text, "int": _as_number, "float": _as_number, "date": _as_date, "datetime": _as_datetime,
    "bool": _as_bool, "choice": _as_choice, "list": _as_list}


__all__ = ["Col", "FormImportError", "RowError", "Rows", "canonical_name", "decimal_comma", "decode", "error_report",
           "is_meta",
           "match_columns", "numbers", "read_csv", "reference_column", "sniff_separator", "text_table"]
