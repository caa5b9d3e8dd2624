"""The conservation-agreements registry: one name for its three families of functions.

- :mod:`icam.agreements.registry_import`: field files in, all or nothing (:func:`import_table`; parcels
  through :mod:`icam.agreements.parcel_import`; the reading rules of :mod:`icam.store.forms`);
- :mod:`icam.agreements.registry_queries`: the tables the pipeline, exports and CLI read, and the compliance
  assessments the pipeline records;
- :mod:`icam.agreements.registry_export`: a GeoPackage for QGIS styled by compliance status, and CSV files.

The tables are :mod:`icam.agreements.models` (migration 0002).
"""

from __future__ import annotations

from icam.agreements.registry_export import NO_ASSESSMENT, STATUS_COLOURS, export_csv, export_geopackage
from icam.agreements.registry_import import (
    COLUMNS,
    FIRST_AGREEMENT_DATE,
    KINDS,
    MAX_OUTSIDE_M,
    ImportReport,
    import_records,
    import_table,
)
from icam.agreements.registry_queries import (
    FieldVisit,
    agreements_table,
    agreements_with_parcels,
    compliance,
    deliveries,
    deliveries_by_agreement,
    field_verifications,
    households_table,
    latest_statuses,
    parcels,
    record_assessments,
    schedules,
    table_counts,
)

__all__ = ["COLUMNS", "FIRST_AGREEMENT_DATE", "KINDS", "MAX_OUTSIDE_M", "NO_ASSESSMENT", "STATUS_COLOURS",
           "FieldVisit", "ImportReport", "agreements_table", "agreements_with_parcels", "compliance", "deliveries",
           "deliveries_by_agreement", "export_csv", "export_geopackage", "field_verifications", "households_table",
           "import_records", "import_table", "latest_statuses", "parcels", "record_assessments", "schedules",
           "table_counts"]
