"""A small project for the web app's tests: three households (named members), their parcels and agreements, a
benefit schedule and a delivery, a grievance, alerts, credits issued, moved and retired, and one user per role
with an API token. Everything enters through icam's own importers and ledger, as a real project's would."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from affine import Affine
from fastapi.testclient import TestClient

from conftest import postgres_schema, write_csv
from icam import ledger
from icam.agreements.registry import import_table
from icam.enforcement.models import Alert
from icam.store.db import make_engine, session, upgrade
from icam.web.accounts import Identity, add_user, new_api_token
from icam.web.app import create_app
from icam.web.roles import ROLES

UTM = "EPSG:32718"
PASSWORD = "a long enough passphrase"
MEMBER_NAMES = ("María Quispe Huamán", "José Tananta Pérez", "Rosa Sangama Ríos")
HOUSEHOLDS = ("HH0001", "HH0002", "HH0003")
AGREEMENTS = ("AC-2013-0001", "AC-2013-0002", "AC-2013-0003")
ALERT_IDS = tuple(f"20240{m}0{d}-a{m}{d}" for m in range(1, 5) for d in range(1, 7))  # 24 alerts, 6 a month
PROJECT = "VCS944"
ISSUED = ((("2008-06-15", "2012-06-14"), 2012, 120_000, 18_000), (("2012-06-15", "2014-06-14"), 2014, 50_000, 7_500))
RETIRED = (30_000, "Café Alto Mayo S.A.C.", "2024 emissions")


def email(role: str) -> str:
    """The test user of ``role``."""
    return f"{role}@example.org"


def _registry_files(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    households = write_csv(folder / "households.csv", ["household_id", "community", "village", "x_m", "y_m"],
                           [[h, "Nuevo Edén", "Caserío 15", 227_000 + 500 * k, 9_384_000]
                            for k, h in enumerate(HOUSEHOLDS)])
    members = write_csv(folder / "members.csv", ["household_id", "name", "sex"],
                        [[h, name, "f" if k != 1 else "m"] for k, (h, name) in enumerate(zip(HOUSEHOLDS,
                                                                                               MEMBER_NAMES))])
    parcels = folder / "parcels.gpkg"
    gpd.GeoDataFrame([{"parcel_id": f"{h}-CONS", "household_id": h, "kind": "conservation", "area_ha": 3.0,
                       "geometry": shapely.box(227_000 + 500 * k, 9_384_200, 227_300 + 500 * k, 9_384_300)}
                      for k, h in enumerate(HOUSEHOLDS)], crs=UTM).to_file(parcels, layer="parcels", engine="pyogrio")
    agreements = write_csv(folder / "agreements.csv", ["agreement_id", "household_id", "signed", "term_years",
                                                       "conservation_parcel_id"],
                           [[a, h, "2013-03-15", 20, f"{h}-CONS"] for a, h in zip(AGREEMENTS, HOUSEHOLDS)])
    schedule = write_csv(folder / "benefit_schedule.csv", ["agreement_id", "item", "unit", "quantity_per_year",
                                                           "unit_cost_usd", "first_year", "last_year"],
                         [[a, "coffee seedlings", "seedling", 500, 0.25, 2013, 2032] for a in AGREEMENTS])
    deliveries = write_csv(folder / "deliveries.csv", ["agreement_id", "item", "delivered_on", "quantity",
                                                       "reference"],
                           [[AGREEMENTS[0], "coffee seedlings", "2014-04-02", 500, "REC-0001"]])
    grievances = write_csv(folder / "grievances.csv", ["household_id", "received_on", "category", "description"],
                           [[HOUSEHOLDS[1], "2015-02-10", "payment", "Seedlings arrived late"]])
    return {"households": households, "members": members, "parcels": parcels, "agreements": agreements,
            "benefit_schedule": schedule, "deliveries": deliveries, "grievances": grievances}


def _alerts(s) -> None:
    for k, code in enumerate(ALERT_IDS):
        first = dt.date(2024, 1 + k // 6, 1 + k % 6)
        s.add(Alert(alert_id=code, first_date=first, last_date=first, area_ha=1.0 + k, lon=-77.9 + 0.05 * k,
                    lat=-5.75, zone="project_area" if k % 2 else "leakage_belt",
                    priority=("high", "medium", "low")[k % 3], score=10.0 - k / 2,
                    agreement_code=AGREEMENTS[0] if k == 0 else None, status="new",
                    raised_at=dt.datetime(2024, 6, 1)))


def _credits(s) -> None:
    for (start, end), vintage, credits, buffer in ISSUED:
        ledger.issue_period(s, PROJECT, start, end, vintage=vintage, credits=credits, buffer=buffer)
    ledger.open_account(s, "Café Alto Mayo S.A.C.")
    ledger.transfer(s, ledger.issuance_account_name(PROJECT), "Café Alto Mayo S.A.C.", 40_000)
    quantity, beneficiary, purpose = RETIRED
    ledger.retire(s, "Café Alto Mayo S.A.C.", quantity, beneficiary, purpose)


def _outputs(folder: Path) -> None:
    """A run's outputs in miniature: a risk raster (20 × 20 cells of 30 m in UTM 18S) and a table."""
    rasters = folder / "outputs" / "rasters"
    rasters.mkdir(parents=True, exist_ok=True)
    risk = np.linspace(0.0, 0.09, 400, dtype="float32").reshape(20, 20)
    with rasterio.open(rasters / "risk_ha_per_year.tif", "w", driver="GTiff", width=20, height=20, count=1,
                       dtype="float32", crs=UTM, transform=Affine(30, 0, 227_000, 0, -30, 9_384_600),
                       nodata=-1.0) as dst:
        dst.write(risk, 1)
    write_csv(folder / "outputs" / "tables" / "loss_by_period.csv", ["period", "loss_ha"], [["2008-2012", 812.5]])


def make_project(folder: Path, url: str | None = None) -> dict[str, str]:
    """Fill the project in ``folder`` (its database: ``url``, else ``folder/.icam/ledger.sqlite``); returns
    each role's API token."""
    from icam.store.db import database_url

    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".icam").mkdir(exist_ok=True)
    (folder / "outputs" / "tables").mkdir(parents=True, exist_ok=True)
    _outputs(folder)
    files = _registry_files(folder / "field")
    engine = make_engine(database_url(folder, url))
    upgrade(engine)
    tokens = {}
    try:
        with session(engine) as s:
            for kind in ("households", "members", "parcels", "agreements", "benefit_schedule", "deliveries",
                         "grievances"):
                import_table(s, kind, files[kind], crs=UTM)
            _alerts(s)
            _credits(s)
            setup = Identity("cli:test", "admin")
            for role in ROLES:
                user = add_user(s, email(role), role, PASSWORD, setup)
                s.flush()
                tokens[role] = new_api_token(s, user, setup)
    finally:
        engine.dispose()
    return tokens


def first_serials() -> dict[str, int]:
    """Serials of known fate: retired (the first transferred), held by the buyer, held by the issuance
    account, in the buffer pool, and one past the last issued."""
    (_, _, credits1, buffer1), (_, _, credits2, buffer2) = ISSUED
    return {"retired": 1, "buyer": RETIRED[0] + 1, "issuance": 40_001, "buffer": credits1 + 1,
            "none": credits1 + buffer1 + credits2 + buffer2 + 1}


@contextmanager
def database(kind: str, postgres_url: str | None) -> Iterator[str | None]:
    """The database of a web test project: None (the project's own SQLite file) or, for ``postgresql``, a fresh
    schema on the test server (dropped afterwards)."""
    if kind == "sqlite":
        yield None
        return
    with postgres_schema(postgres_url, "icam_web") as url:
        yield url


@contextmanager
def served(request, tmp_path_factory, name: str) -> Iterator[tuple]:
    """For a fixture parametrized on ``sqlite`` / ``postgresql``: the project made and served in-process, as
    (app, client, each role's token)."""
    server = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    with database(request.param, server) as url:
        folder = tmp_path_factory.mktemp(name)
        tokens = make_project(folder, url)
        app = create_app(folder, url)
        with TestClient(app) as client:
            yield app, client, tokens
