"""Compliance of conservation agreements from the forest monitoring: a status per agreement and monitoring
period (:func:`assess_compliance`).

Four steps, each a function from tables to a table (pandas), with no database:

1. :func:`~icam.agreements.parcel_loss.parcel_loss`: the mapped forest loss inside each parcel per
   monitoring period (pixels and true hectares), with the loss on the parcel's boundary pixels apart;
2. :func:`assess_compliance`: a status per agreement and period (``compliant``, ``to_verify``,
   ``breach``, ``not_in_force``) and the reason for it, from the loss, the agreement's tolerance,
   the map's stated error (:class:`MapError`) and the field verifications;
3. :func:`~icam.agreements.benefits.benefits_due`: the benefits promised per agreement, year and item,
   and what is due once a breach's sanction is applied;
4. :func:`~icam.agreements.benefits.delivery_balance`: due, delivered and outstanding per agreement and item.

How monitoring periods, agreement terms and annual loss years meet is :mod:`icam.agreements.periods`; how
parcels become pixels, :mod:`icam.agreements.parcel_loss`. The steps' functions are importable from here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from icam.agreements.benefits import SANCTIONS, benefits_due, delivery_balance
from icam.agreements.parcel_loss import parcel_loss
from icam.agreements.periods import optional_date, period_loss_years, to_date, year_span
from icam.core.errors import InputError

STATUSES = ("compliant", "to_verify", "breach", "not_in_force")
FINDINGS = ("cleared", "not_cleared", "could_not_access")

# areas are sums of cell areas in floating point: compare with this slack, ha
_EPS_HA = 1e-9


@dataclass(frozen=True)
class MapError:
    """The stated error of the forest-loss map, as the compliance rule uses it.

    users_accuracy: user's accuracy of the loss class, 0 < UA ≤ 1: the share of the mapped loss that
        is true loss (1 − UA is its commission error), from the accuracy assessment of the activity
        data (Olofsson et al. 2014, Remote Sensing of Environment 148:42–57: Û_i = p̂_ii / p̂_i·).
        Give the UA of the stratum the parcels lie in (icam's activity data can be stratified by map
        class × zone), not the landscape's: the share of mapped loss that is real falls with the share of
        forest that is really cleared (a base-rate effect), so it is lowest in protected parcels. In the
        simulated project (small scale, seed 7) the loss class's UA is 0.96 over the whole grid, 0.71 in the project
        area, and 0.16 inside the conservation areas under agreement (20 true of 123 mapped pixels).
    min_mapping_unit_ha: the smallest area the map claims to resolve, ha (icam.toml
        ``[forest] min_mapping_unit_ha``).
    pixel_size_m: the map's cell side, m; the edge ring of :func:`parcel_loss` is one such pixel wide.
    """

    users_accuracy: float
    min_mapping_unit_ha: float
    pixel_size_m: float

    def __post_init__(self) -> None:
        if not 0 < self.users_accuracy <= 1:
            raise InputError(f"the user's accuracy of the loss class is {self.users_accuracy}, not in (0, 1]",
                             "give it as a share, e.g. 0.9 for 90 %")
        if not self.min_mapping_unit_ha >= 0:
            raise InputError(f"the minimum mapping unit is {self.min_mapping_unit_ha} ha", "give an area ≥ 0 ha")
        if not self.pixel_size_m > 0:
            raise InputError(f"the pixel size is {self.pixel_size_m} m", "give the map's cell side in metres (> 0)")


@dataclass(frozen=True)
class ComplianceRule:
    """How the mapped loss of an agreement's conservation parcel in a period becomes a status.

    For an agreement in force in the period, with, from :func:`parcel_loss`,

    - L = ``loss_ha``, the loss in the period's loss years wholly inside the term,
    - E = ``edge_ha``, the part of L on the parcel's edge pixels,
    - P = ``largest_patch_ha``, the largest connected patch of L,
    - W = ``partial_ha``, the loss of the partly covered years (signing year, term's last year),

    the agreement's tolerance T = ``tolerance_ha`` and the map's user's accuracy UA and minimum
    mapping unit MMU (:class:`MapError`), the *map status* is:

    1. L ≤ T: ``compliant``; but ``to_verify`` when L + W > T, W reaches the minimum mapping unit
       and ``partial_years == "verify"`` (a clearing the map resolves, in a year the agreement covers
       only in part: before or after signing?);
    2. L > T but the excess is explainable by the map's stated error: ``within_error``, by default
       ``compliant`` with the basis saying so (a field office cannot visit every speck of a noisy
       map: on the simulated project, 816 complying households, 674 would otherwise be sent to
       verification at least once), or ``to_verify`` to list them:
       a. L − E ≤ T (``edge_is_weak``): beyond the tolerance only on the boundary pixels, where a
          one-pixel geolocation error moves a neighbour's clearing inside;
       b. P < MMU (``below_mmu_is_weak``), P = ``largest_patch_ha``, the largest 8-connected patch of
          the counted loss: no mapped clearing reaches the map's minimum mapping unit. The test is on
          patches, not on L: a map's false alarms come as scattered specks (icam's simulated map: pairs
          of cells in random years), which add up over a period to more than the MMU without any of
          them being a clearing the map claims to resolve;
       c. L × UA ≤ T (``use_users_accuracy``): the expected true loss, the mapped loss times the share
          of mapped loss that is real (Olofsson et al. 2014), is within the tolerance. It can only
          matter when T > 0, and UA must be that of the parcels' stratum (see :class:`MapError`);
    3. otherwise the map is evidence of a breach: ``breach`` when the agreement's
       ``needs_field_verification`` is false, else ``to_verify`` ("awaiting field verification").

    A period that none of the term covers (no loss year of the period overlaps [signed, term_end])
    is ``not_in_force``. A parcel with no cell centre on the grid (``parcel_px`` = 0) or without
    forest data in all its cells is ``to_verify``: the map cannot see it.

    Field verifications then override the map status (:func:`assess_compliance`).
    """

    edge_is_weak: bool = True
    below_mmu_is_weak: bool = True
    use_users_accuracy: bool = True
    partial_years: Literal["verify", "ignore"] = "verify"
    within_error: Literal["compliant", "to_verify"] = "compliant"

    def __post_init__(self) -> None:
        if self.partial_years not in ("verify", "ignore"):
            raise InputError(f"partial_years is {self.partial_years!r}", "use 'verify' or 'ignore'")
        if self.within_error not in ("compliant", "to_verify"):
            raise InputError(f"within_error is {self.within_error!r}", "use 'compliant' or 'to_verify'")

    def map_status(self, loss_ha: float, edge_ha: float, largest_patch_ha: float, partial_ha: float,
                   tolerance_ha: float, needs_field_verification: bool, map_error: MapError) -> tuple[str, str]:
        """(status, basis) of one agreement and period from the map alone (class docstring)."""
        L, E, P, W, T = loss_ha, edge_ha, largest_patch_ha, partial_ha, tolerance_ha
        ua, mmu = map_error.users_accuracy, map_error.min_mapping_unit_ha
        inside = max(L - E, 0.0)
        if L <= T + _EPS_HA:
            if W > 0 and L + W > T + _EPS_HA and W >= mmu - _EPS_HA and self.partial_years == "verify":
                return "to_verify", (f"mapped loss {L:.2f} ha ≤ tolerance {T:g} ha in the years wholly under the "
                                     f"agreement, but {W:.2f} ha more in a year it covers only in part (before signing "
                                     "or after the term?)")
            note = f" (+{W:.2f} ha in a partly covered year)" if W > 0 else ""
            return "compliant", f"mapped loss {L:.2f} ha ≤ tolerance {T:g} ha{note}"
        within = self.within_error
        if self.edge_is_weak and inside <= T + _EPS_HA:
            return within, (f"within the map's error: mapped loss {L:.2f} ha > tolerance {T:g} ha, but only "
                            f"{inside:.2f} ha away from the boundary pixels ({E:.2f} ha within one "
                            f"{map_error.pixel_size_m:g} m pixel of the boundary: geolocation error?)")
        if self.below_mmu_is_weak and P < mmu - _EPS_HA:
            return within, (f"within the map's error: mapped loss {L:.2f} ha > tolerance {T:g} ha, but in patches "
                            f"below the map's minimum mapping unit (largest {P:.2f} ha < {mmu:g} ha)")
        if self.use_users_accuracy and L * ua <= T + _EPS_HA:
            return within, (f"within the map's error: mapped loss {L:.2f} ha > tolerance {T:g} ha, but the expected "
                            f"true loss {L:.2f} × UA {ua:g} = {L * ua:.2f} ha is within it")
        basis = (f"mapped loss {L:.2f} ha > tolerance {T:g} ha ({inside:.2f} ha off the boundary pixels, largest "
                 f"patch {P:.2f} ha (MMU {mmu:g} ha), expected true loss {L * ua:.2f} ha at UA {ua:g})")
        if needs_field_verification:
            return "to_verify", basis + "; awaiting field verification"
        return "breach", basis


_AGREEMENT_COLUMNS = ("code", "parcel_code", "tolerance_ha", "needs_field_verification", "signed", "term_end")


def _same_date(a, b) -> bool:
    a = None if a is None or (not isinstance(a, str) and pd.isna(a)) else to_date(a, "date")
    b = None if b is None or (not isinstance(b, str) and pd.isna(b)) else to_date(b, "date")
    return a == b


def _check_verifications(verifications: pd.DataFrame | None) -> dict[str, list[tuple]]:
    """agreement → [(visited_on, finding, cleared_ha or None)] in date order."""
    if verifications is None or len(verifications) == 0:
        return {}
    missing = [c for c in ("agreement", "visited_on", "finding") if c not in verifications.columns]
    if missing:
        raise InputError(f"the field verifications have no column(s) {', '.join(missing)}",
                         "give agreement, visited_on, finding (and optionally cleared_ha)")
    out: dict[str, list[tuple]] = {}
    has_area = "cleared_ha" in verifications.columns
    for k, row in enumerate(verifications.itertuples(index=False)):
        finding = str(row.finding).strip()
        if finding not in FINDINGS:
            raise InputError(f"field verification {k + 1} ({row.agreement}) has finding {finding!r}",
                             f"use one of {', '.join(FINDINGS)}")
        area = row.cleared_ha if has_area else None
        area = None if area is None or pd.isna(area) else float(area)
        out.setdefault(row.agreement, []).append((to_date(row.visited_on, f"field verification {k + 1} visited_on"),
                                                  finding, area))
    for visits in out.values():
        visits.sort(key=lambda v: v[0])
    return out


def _apply_visits(rows: list[dict], visits: list[tuple], tolerance: float) -> None:
    """Field visits (date order) override the map statuses of one agreement's periods, in place
    (rules in :func:`assess_compliance`)."""
    settled: set[int] = set()
    flagged = [k for k, r in enumerate(rows) if r["map_status"] in ("to_verify", "breach")]

    def note(k: int, status: str, day: dt.date, finding: str, text: str) -> None:
        rows[k].update(status=status, verified_on=day, finding=finding)
        rows[k]["basis"] += f"; {text}"

    for day, finding, area in visits:
        open_ = [k for k in flagged if k not in settled and rows[k]["_start"] <= day]
        if finding == "not_cleared":
            for k in open_:
                if rows[k]["_loss_end"] < day:
                    settled.add(k)
                    note(k, "compliant", day, finding, f"field verification on {day} found no clearing (map error)")
        elif finding == "could_not_access":
            for k in open_:
                note(k, "to_verify", day, finding, f"field visit on {day} could not access the area")
        else:  # cleared: one clearing settles one period, the flagged one with the most mapped loss (latest on ties)
            found = f" ({area:g} ha)" if area is not None else ""
            if open_:
                k = max(open_, key=lambda j: (rows[j]["loss_ha"] + rows[j]["partial_ha"], rows[j]["_start"]))
                settled.add(k)
                if area is not None and area <= tolerance + _EPS_HA:
                    note(k, "compliant", day, finding, f"field verification on {day} found {area:g} ha cleared, "
                                                        "within the tolerance")
                else:
                    note(k, "breach", day, finding, f"field verification on {day} found clearing{found}")
                continue
            # no flagged period waits for it: clearing the map missed, in the period the visit falls in
            within = [k for k, r in enumerate(rows) if r["_start"] <= day <= r["_end"]
                      and r["status"] == "compliant" and k not in settled]
            if within and (area is None or area > tolerance + _EPS_HA):
                settled.add(within[0])
                note(within[0], "breach", day, finding, f"but field verification on {day} found clearing{found} "
                                                         "that the map missed")


def assess_compliance(loss_table: pd.DataFrame, agreements: pd.DataFrame, map_error: MapError,
                      verifications: pd.DataFrame | None = None, *,
                      rule: ComplianceRule | None = None) -> pd.DataFrame:
    """Status of every agreement in every monitoring period of ``loss_table``.

    ``loss_table``: :func:`parcel_loss` of the conservation parcels, computed with ``since`` = the
    agreements' signing dates and ``until`` = their term ends (refused otherwise: loss before the
    signature would count as a breach).
    ``agreements``: columns ``code``, ``parcel_code`` (its conservation parcel), ``tolerance_ha``
    (loss the agreement tolerates per period, ha; 0 for "no clearing"), ``needs_field_verification``
    (bool: a breach becomes final only after a field visit), ``signed`` (date), ``term_end`` (last
    day in force, date; empty for open-ended).
    ``verifications``: columns ``agreement``, ``visited_on`` (date), ``finding`` (``cleared``,
    ``not_cleared``, ``could_not_access``), optionally ``cleared_ha``.

    The map status follows ``rule`` (:class:`ComplianceRule`, formulas there). Field visits then
    override it; each visit, in date order, speaks for the periods that started on or before it
    (visits dated within or after a period):

    - ``cleared``: one clearing settles one period: of the agreement's flagged periods (map status
      ``to_verify`` or ``breach``) not yet settled, the one with the most mapped loss becomes
      ``breach`` (``compliant`` when the visit's ``cleared_ha`` is given and within the tolerance);
      the other flags stay as they are. With no flagged period waiting, the clearing is one the map
      missed: the map-``compliant`` period the visit falls in becomes ``breach``;
    - ``not_cleared``: every flagged period not yet settled whose last loss year ended before the
      visit becomes ``compliant`` (the mapped loss was a map error); a visit before the end of a
      period's last loss year cannot rule out a clearing later that year and leaves it as it is;
    - ``could_not_access``: flagged periods not yet settled stay ``to_verify``, with the visit noted;
    - ``not_in_force`` is never overridden.

    One row per agreement and period, columns: ``agreement``, ``parcel_code``, ``period_start``,
    ``period_end``, ``loss_ha``, ``edge_ha``, ``largest_patch_ha``, ``partial_ha``, ``tolerance_ha``,
    ``expected_true_loss_ha`` (loss_ha × UA), ``map_status``, ``status``, ``basis``,
    ``verified_on`` (date of the deciding visit or None), ``finding``.
    """
    rule = rule or ComplianceRule()
    _check_tables(loss_table, agreements)
    visits = _check_verifications(verifications)
    # each parcel's periods in date order, as rows: a frame per parcel took 1.2 s of the demo's 3.2 s stage
    by_parcel: dict[str, list] = {}
    for row in loss_table.sort_values("period_start", kind="stable").itertuples(index=False):
        by_parcel.setdefault(row.parcel_code, []).append(row)
    out = []
    for a in agreements.itertuples(index=False):
        if a.parcel_code not in by_parcel:
            raise InputError(f"agreement {a.code}: its conservation parcel {a.parcel_code!r} is not in the loss "
                             "table", "include every agreement's parcel in parcel_loss")
        rows = _agreement_rows(a, by_parcel[a.parcel_code], map_error, rule)
        if visits.get(a.code):
            _apply_visits(rows, visits[a.code], float(a.tolerance_ha))
        out.extend(rows)
    return pd.DataFrame(out, columns=_STATUS_COLUMNS)


_STATUS_COLUMNS = ["agreement", "parcel_code", "period_start", "period_end", "loss_ha", "edge_ha", "largest_patch_ha",
                   "partial_ha", "tolerance_ha", "expected_true_loss_ha", "map_status", "status", "basis",
                   "verified_on", "finding"]
_LOSS_NEEDED = ["parcel_code", "period_start", "period_end", "last_loss_year", "since", "until", "parcel_px",
                "nodata_px", "loss_ha", "edge_ha", "largest_patch_ha", "partial_ha", "first_loss_year"]


def _check_tables(loss_table: pd.DataFrame, agreements: pd.DataFrame) -> None:
    missing = [c for c in _AGREEMENT_COLUMNS if c not in agreements.columns]
    if missing:
        raise InputError(f"the agreements have no column(s) {', '.join(missing)}",
                         f"give {', '.join(_AGREEMENT_COLUMNS)}")
    missing = [c for c in _LOSS_NEEDED if c not in loss_table.columns]
    if missing:
        raise InputError(f"the loss table has no column(s) {', '.join(missing)}", "compute it with parcel_loss")
    dup = agreements["code"][agreements["code"].duplicated()].astype(str).unique().tolist()
    if dup:
        raise InputError(f"agreement code(s) {', '.join(dup[:5])} appear more than once", "give each agreement one row")


def _agreement_rows(a, periods: list, map_error: MapError, rule: ComplianceRule) -> list[dict]:
    """The map status of agreement ``a`` (a row of the agreements table) in each period of its parcel's loss
    (``periods``: rows of the loss table, in date order)."""
    code, parcel = a.code, a.parcel_code
    signed = to_date(a.signed, f"agreement {code} signed")
    term_end = optional_date(a.term_end, f"agreement {code} term_end")
    tolerance = float(a.tolerance_ha)
    if not tolerance >= 0:
        raise InputError(f"agreement {code} has tolerance {a.tolerance_ha} ha", "give a tolerance ≥ 0 ha")
    first = periods[0]
    if not (_same_date(first.since, signed) and _same_date(first.until, term_end)):
        raise InputError(f"agreement {code}: the loss of parcel {parcel} was counted from {first.since} to "
                         f"{first.until}, but the agreement runs from {signed} to {term_end}",
                         "compute parcel_loss with since = signing dates and until = term ends")
    rows = []
    for p in periods:
        y0, y1 = int(p.first_loss_year), int(p.last_loss_year)
        in_force = signed <= dt.date(y1, 12, 31) and (term_end is None or term_end >= dt.date(y0, 1, 1))
        L, E, W = float(p.loss_ha), float(p.edge_ha), float(p.partial_ha)
        if not in_force:
            status = "not_in_force"
            basis = (f"the agreement ({signed} – {term_end or 'open'}) covers no loss year of the period "
                     f"({year_span(y0, y1)})")
        elif p.parcel_px == 0:
            status, basis = "to_verify", "the parcel holds no cell centre of the grid: the map cannot see it"
        elif p.nodata_px >= p.parcel_px:
            status, basis = "to_verify", "no forest data in the parcel"
        else:
            status, basis = rule.map_status(L, E, float(p.largest_patch_ha), W, tolerance,
                                            bool(a.needs_field_verification), map_error)
            if p.nodata_px:
                basis += f"; {int(p.nodata_px)} of its {int(p.parcel_px)} px have no forest data"
        rows.append({"agreement": code, "parcel_code": parcel, "period_start": p.period_start,
                     "period_end": p.period_end, "loss_ha": L, "edge_ha": E,
                     "largest_patch_ha": float(p.largest_patch_ha), "partial_ha": W,
                     "tolerance_ha": tolerance, "expected_true_loss_ha": L * map_error.users_accuracy,
                     "map_status": status, "status": status, "basis": basis, "verified_on": None, "finding": None,
                     "_start": to_date(p.period_start, "period start"), "_end": to_date(p.period_end, "period end"),
                     "_loss_end": dt.date(y1, 12, 31)})
    return rows


__all__ = ["FINDINGS", "SANCTIONS", "STATUSES", "ComplianceRule", "MapError", "assess_compliance", "benefits_due",
           "delivery_balance", "parcel_loss", "period_loss_years"]
