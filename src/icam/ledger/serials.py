"""Serial numbers of credits and the labels of serial blocks.

Every credit in a ledger has one integer serial number, 1, 2, 3, ..., handed out in order of
issuance and never reused (cancelled and retired credits keep theirs). A block of consecutive
serials of one issuance is labelled::

    ICAM-<project>-<vintage>-<period start yyyymmdd>-<first>-<last>

with ``first`` and ``last`` written with at least nine digits, e.g.
``ICAM-VCS944-2012-20080615-000000001-000120000`` for the first 120,000 credits of Alto Mayo's
2008-06-15 period, vintage 2012. The project id may itself hold hyphens: a label is read from the
right (the last four fields are fixed).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

PREFIX = "ICAM"
SERIAL_DIGITS = 9
PROJECT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_LABEL_RE = re.compile(r"^ICAM-(?P<project>.+)-(?P<vintage>\d{4})-(?P<start>\d{8})-(?P<first>\d+)-(?P<last>\d+)$")


@dataclass(frozen=True)
class SerialBlock:
    """Serials ``first .. last`` (both included) of one issuance of ``project``."""

    project: str
    vintage: int
    period_start: dt.date
    first: int
    last: int

    @property
    def quantity(self) -> int:
        """Number of credits in the block."""
        return self.last - self.first + 1

    @property
    def label(self) -> str:
        """The block's label, ``ICAM-<project>-<vintage>-<yyyymmdd>-<first>-<last>``."""
        return block_label(self.project, self.vintage, self.period_start, self.first, self.last)


def block_label(project: str, vintage: int, period_start: dt.date, first: int, last: int) -> str:
    """The label of serials ``first .. last`` of ``project``'s issuance for the period starting ``period_start``."""
    return (f"{PREFIX}-{project}-{vintage:04d}-{period_start:%Y%m%d}-"
            f"{first:0{SERIAL_DIGITS}d}-{last:0{SERIAL_DIGITS}d}")


def parse_label(label: str) -> SerialBlock:
    """The block a label names; ``ValueError`` if it is not a serial block label."""
    match = _LABEL_RE.match(label.strip())
    if not match or not PROJECT_RE.match(match["project"]):
        raise ValueError(f"not a serial block label: {label!r} (expected ICAM-<project>-<vintage>-<yyyymmdd>-"
                         "<first>-<last>)")
    first, last = int(match["first"]), int(match["last"])
    if first < 1 or last < first:
        raise ValueError(f"serial block {label!r} runs from {first} to {last}")
    start = dt.datetime.strptime(match["start"], "%Y%m%d").date()
    return SerialBlock(match["project"], int(match["vintage"]), start, first, last)


def merge(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, non-adjacent, non-overlapping ranges covering the same serials as ``ranges`` (inclusive ends)."""
    merged: list[list[int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return [(a, b) for a, b in merged]


def overlaps(ranges: Iterable[tuple[int, int]]) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Pairs of ranges that share a serial (neighbours after sorting; empty when all are disjoint)."""
    ordered = sorted(ranges)
    found = []
    reach: tuple[int, int] | None = None
    for current in ordered:
        if reach is not None and current[0] <= reach[1]:
            found.append((reach, current))
        if reach is None or current[1] > reach[1]:
            reach = current
    return found


def count(ranges: Iterable[tuple[int, int]]) -> int:
    """Number of serials in ``ranges`` (assumed disjoint)."""
    return sum(last - first + 1 for first, last in ranges)
