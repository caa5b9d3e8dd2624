"""What the pages and the API show, read from the registry, the ledger and the last run's ``results.json``.

Plain dicts and lists of JSON values: the API returns them as they are, the templates format them. The public
views hold nothing personal: no household, member, parcel owner or payment.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from icam import ledger
from icam.agreements.models import Agreement, BenefitSchedule, Delivery, Grievance, Household, Member, Parcel
from icam.agreements.registry_queries import agreements_table, latest_statuses
from icam.enforcement.models import Alert, Observation, Patrol, PatrolPlan
from icam.enforcement.plans import PRIORITY_RANK
from icam.ledger.lookup import find_serial
from icam.ledger.models import Account, Retirement
from icam.web.accounts import audit_log, users


def results(project_dir: Path) -> dict:
    """The last run's ``outputs/results.json`` ({} before the first run)."""
    path = project_dir / "outputs" / "results.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def summary(session: Session, project_dir: Path) -> dict:
    """The aggregate figures of the dashboard, public: the project's forest and loss per year, credits,
    agreements by compliance status, alerts by priority and status (counts only)."""
    r = results(project_dir)
    fc = r.get("forest_change", {})
    zone = "project_area" if "project_area" in fc.get("forest_area_ha", {}) else "grid"
    forest = fc.get("forest_area_ha", {}).get(zone, {})
    totals = r.get("accounting", {}).get("totals", {})
    alerts = dict(session.execute(select(Alert.status, func.count()).group_by(Alert.status)).all())
    open_by_priority = dict(session.execute(select(Alert.priority, func.count()).where(Alert.status != "checked")
                                            .group_by(Alert.priority)).all())
    return {
        "project": r.get("project", {}),
        "as_of": r.get("enforcement", {}).get("as_of"),
        "forest_zone": zone,
        "forest_ha": {"first_year": min(forest, default=None), "first": forest[min(forest)] if forest else None,
                      "last_year": max(forest, default=None), "last": forest[max(forest)] if forest else None},
        "loss_ha_by_year": fc.get("loss_ha", {}).get(zone, {}),
        "credits": {"computed": totals.get("credits"), "buffer_computed": totals.get("buffer_credits"),
                    **registry_totals(session)},
        "agreements": {"households": session.scalar(select(func.count()).select_from(Household)),
                       "agreements": session.scalar(select(func.count()).select_from(Agreement)),
                       "by_status": r.get("agreements", {}).get("counts_by_status", {})},
        "alerts": {"by_status": alerts, "open_by_priority": open_by_priority},
    }


def registry_totals(session: Session) -> dict:
    """Credits issued, in the buffer, retired and cancelled, from the ledger (whole tCO2e)."""
    return _totals(ledger.issuances(session), ledger.balances(session))


def _totals(issued: list[ledger.IssuanceRecord], balances: list[ledger.AccountBalance]) -> dict:
    return {"issued": sum(i.quantity for i in issued), "buffer": sum(i.buffer_quantity for i in issued),
            "retired": sum(b.retired for b in balances),
            "cancelled": sum(b.cancelled for b in balances)}


def credits(session: Session) -> dict:
    """The public registry: issuance blocks by vintage, accounts' balances, retirements with beneficiaries."""
    issued, balances = ledger.issuances(session), ledger.balances(session)
    blocks = [{"project": i.project, "vintage": i.vintage, "period_start": i.period_start.isoformat(),
               "period_end": i.period_end.isoformat(), "credits": i.quantity, "buffer": i.buffer_quantity,
               "first_serial": i.first_serial, "last_serial": i.last_serial, "issued_at": i.issued_at}
              for i in issued]
    return {"totals": _totals(issued, balances), "issuances": blocks, "balances": [asdict(b) for b in balances],
            "retirements": retirements(session)}


def retirements(session: Session) -> list[dict]:
    """Every retirement, newest first: when, how many, from which account, for whom and why, which serials."""
    rows = session.execute(select(Retirement, Account.name).join(Account, Retirement.account_id == Account.id)
                           .order_by(Retirement.audit_seq.desc())).all()
    return [{"at": r.at, "quantity": r.quantity, "account": name, "beneficiary": r.beneficiary,
             "purpose": r.purpose, "serials": json.loads(r.blocks)} for r, name in rows]


def serial(session: Session, number: int) -> dict | None:
    """The record of one serial (its block, vintage, status and history), or None."""
    record = find_serial(session, number)
    return None if record is None else asdict(record)


def parse_serial(text: str) -> int | None:
    """A serial typed by a person: digits (spaces, commas and dots as group separators allowed), or a block
    label (its first serial); None where it is neither."""
    cleaned = text.strip().replace(" ", "").replace(",", "").replace(".", "").replace("\u00a0", "")
    if cleaned.isdecimal():  # not isdigit(): "²" is a digit int() refuses
        return int(cleaned) if 0 < int(cleaned) < 2**63 else None
    try:
        return ledger.parse_label(text.strip()).first
    except ValueError:
        return None


def households(session: Session, *, offset: int = 0, limit: int = 500) -> list[dict]:
    """Households with their community, members (names) and agreements: for staff who may see them."""
    members: dict[int, list[str]] = {}
    for household_id, name in session.execute(select(Member.household_id, Member.name).order_by(Member.id)):
        members.setdefault(household_id, []).append(name)
    agreements: dict[int, list[str]] = {}
    for household_id, code in session.execute(select(Agreement.household_id, Agreement.code).order_by(Agreement.code)):
        agreements.setdefault(household_id, []).append(code)
    rows = session.scalars(select(Household).order_by(Household.code).offset(offset).limit(limit))
    return [{"household_id": h.code, "community": h.community.name if h.community else None, "village": h.village,
             "members_count": h.members_count, "members": members.get(h.id, []),
             "agreements": agreements.get(h.id, [])} for h in rows]


def agreements(session: Session) -> list[dict]:
    """Agreements with their household, term, conservation parcel (hectares) and latest compliance status."""
    table = agreements_table(session)
    area = dict(session.execute(select(Parcel.code, Parcel.area_ha)).all())
    status = latest_statuses(session)
    return [{"agreement_id": a, "household_id": h, "signed": s.isoformat(), "in_force_until": e.isoformat(),
             "conservation_parcel_id": p, "conservation_area_ha": area.get(p), "status": status.get(a, "not_assessed")}
            for a, h, s, e, p in zip(table["agreement_id"], table["household_id"], table["signed"],
                                     table["in_force_until"], table["conservation_parcel_id"])]


def deliveries(session: Session, limit: int = 100) -> list[dict]:
    """The latest benefit deliveries (and payments' value), newest first."""
    rows = session.execute(select(Delivery, Agreement.code).join(Agreement, Delivery.agreement_id == Agreement.id)
                           .order_by(Delivery.id.desc()).limit(limit)).all()
    return [{"id": d.id, "agreement_id": code, "item": d.item, "delivered_on": d.delivered_on.isoformat(),
             "quantity": d.quantity, "value_usd": float(d.value_usd) if d.value_usd is not None else None,
             "reference": d.reference} for d, code in rows]


def grievances(session: Session, limit: int = 100) -> list[dict]:
    """The latest grievances, newest first."""
    rows = session.scalars(select(Grievance).order_by(Grievance.id.desc()).limit(limit))
    return [{"id": g.id, "received_on": g.received_on.isoformat(), "category": g.category,
             "description": g.description, "status": g.status,
             "resolved_on": g.resolved_on.isoformat() if g.resolved_on else None} for g in rows]


def agreement_items(session: Session) -> list[tuple[str, list[str]]]:
    """Agreement codes with the benefit items of their schedules (the delivery form's choices)."""
    items: dict[str, list[str]] = {}
    for code, item in session.execute(select(Agreement.code, BenefitSchedule.item)
                                      .join(BenefitSchedule, BenefitSchedule.agreement_id == Agreement.id)
                                      .distinct().order_by(Agreement.code, BenefitSchedule.item)):
        items.setdefault(code, []).append(item)
    return sorted(items.items())


def ranked_alerts(session: Session, *, status: str | None = None, limit: int | None = 300,
                  open_only: bool = False) -> list[Alert]:
    """Alerts, open ones first by priority then score (the order rangers work in); ``status`` to filter."""
    query = select(Alert)
    if status is not None:
        query = query.where(Alert.status == status)
    if open_only:
        query = query.where(Alert.status != "checked")
    rank = case(PRIORITY_RANK, value=Alert.priority, else_=len(PRIORITY_RANK))
    return list(session.scalars(query.order_by(case((Alert.status == "checked", 1), else_=0), rank,
                                               Alert.score.desc(), Alert.first_date.desc(), Alert.alert_id)
                                .limit(limit)))


def alerts(session: Session, *, status: str | None = None, limit: int = 300) -> list[dict]:
    """:func:`ranked_alerts` as JSON values."""
    rows = ranked_alerts(session, status=status, limit=limit)
    return [{"alert_id": a.alert_id, "priority": a.priority, "score": a.score, "status": a.status,
             "verdict": a.verdict, "area_ha": a.area_ha, "first_date": a.first_date.isoformat(), "zone": a.zone,
             "agreement": a.agreement_code, "lon": a.lon, "lat": a.lat} for a in rows]


def alerts_geojson(rows: list[dict]) -> dict:
    """Alerts as a GeoJSON FeatureCollection (WGS 84 points)."""
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [a["lon"], a["lat"]]},
         "properties": {k: v for k, v in a.items() if k not in ("lon", "lat")}} for a in rows]}


def plans(session: Session, limit: int = 50) -> list[dict]:
    """Patrol plans, newest first, with their alerts and whether a patrol went."""
    done = set(session.scalars(select(Patrol.plan_id).where(Patrol.plan_id.is_not(None))))
    rows = session.scalars(select(PatrolPlan).order_by(PatrolPlan.id.desc()).limit(limit))
    return [{"code": p.code, "planned_start": p.planned_start.isoformat(), "planned_end": p.planned_end.isoformat(),
             "team": p.team, "zone": p.zone, "alerts": [a.alert_id for a in p.alerts], "patrolled": p.id in done}
            for p in rows]


def outcomes(session: Session, limit: int = 50) -> list[dict]:
    """The latest observations that decided an alert, newest first."""
    rows = session.execute(select(Observation, Alert.alert_id, Patrol.code)
                           .join(Alert, Observation.alert_id == Alert.id).join(Patrol)
                           .order_by(Observation.id.desc()).limit(limit)).all()
    return [{"alert_id": code, "patrol": patrol, "observed_at": o.observed_at.isoformat(), "category": o.category,
             "area_ha": o.area_ha} for o, code, patrol in rows]


def audit(session: Session) -> dict:
    """The web app's audit log (newest first) and the ledger's chain head (to compare with a published one)."""
    seq, head = ledger.head(session)
    return {"web": [{"at": e.at, "actor": e.actor, "role": e.role, "action": e.action, "target": e.target,
                     "detail": json.loads(e.detail) if e.detail else None} for e in audit_log(session)],
            "ledger_head": {"seq": seq, "hash": head},
            "ledger": [{"seq": e.seq, "at": e.at, "event": e.event_type, "summary": e.summary(), "hash": e.hash}
                       for e in reversed(ledger.history(session)[-200:])]}


def people(session: Session) -> list[dict]:
    """The project's users and roles (no password hash)."""
    return [{"email": u.email, "role": u.role, "active": u.active, "created_at": u.created_at}
            for u in users(session)]


def outputs(project_dir: Path) -> list[dict]:
    """The files of the last run's outputs folder with their sizes, and the manifest's SHA-256 where listed."""
    folder = project_dir / "outputs"
    if not folder.is_dir():
        return []
    hashes = {o.get("path"): o.get("sha256") for o in manifest(project_dir).get("outputs", []) if isinstance(o, dict)}
    return [{"path": p.relative_to(folder).as_posix(), "size_bytes": p.stat().st_size,
             "sha256": hashes.get(p.relative_to(folder).as_posix())}
            for p in sorted(folder.rglob("*")) if p.is_file()]


def manifest(project_dir: Path) -> dict:
    """The run manifest: inputs with their SHA-256, parameters, versions ({} before the first run)."""
    path = project_dir / "outputs" / "manifest.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def allocation(project_dir: Path) -> dict:
    """The baseline and its allocation (VM0015 / VT0007 per zone), and the risk model chosen."""
    r = results(project_dir)
    risk = r.get("risk", {})
    return {"baseline": r.get("baseline", {}), "risk": {"chosen": risk.get("chosen"), "reason": risk.get("reason")},
            "nesting": r.get("jurisdiction")}


__all__ = ["agreement_items", "agreements", "alerts", "alerts_geojson", "allocation", "audit", "credits",
           "deliveries", "grievances", "households", "manifest", "outcomes", "outputs", "parse_serial", "people",
           "plans", "ranked_alerts", "registry_totals", "results", "retirements", "serial", "summary"]
