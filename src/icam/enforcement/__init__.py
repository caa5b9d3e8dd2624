"""Enforcement: deforestation alerts for the protected forest's head office (rangers, managers).

- :mod:`icam.enforcement.alerts`: sub-annual alert rasters (GLAD/RADD-like, or made from an annual
  loss map), alert pixels clustered into events, events described (zone, distances, risk, the
  conservation agreement they touch) and ranked by a documented priority rule; already-seen alerts
  are not raised again.
- :mod:`icam.enforcement.exports`: the events as GeoPackage, GeoJSON, KML and GPX for QGIS and
  field GPS units, and a printable HTML field sheet.
- :mod:`icam.enforcement.models` (migration 0003) and :mod:`icam.enforcement.patrols`: alerts,
  patrol plans, patrols with GPX tracks, observations and incidents from ODK/KoboToolbox exports,
  follow-up actions; alerts matched to observations (true or false positive); indicators.
- :mod:`icam.simulate.patrols`: the demo's patrol history.

Libraries and tables; the pipeline stage, CLI and report section are not built yet (issue 7).
"""
