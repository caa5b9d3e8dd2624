"""Enforcement: deforestation alerts for the protected forest's head office (rangers, managers).

- :mod:`icam.enforcement.alerts`: sub-annual alert rasters (GLAD/RADD-like, or made from an annual
  loss map), alert pixels clustered into events, events described (zone, distances, risk, the
  conservation agreement they touch) and ranked by a documented priority rule; already-seen alerts
  are not raised again.
- :mod:`icam.enforcement.exports`: the events as GeoPackage, GeoJSON, KML and GPX for QGIS and
  field GPS units, and a printable HTML field sheet.
- :mod:`icam.enforcement.models` (migrations 0003 and 0004): alerts, patrol plans, patrols with GPX
  tracks, observations, incidents and follow-up actions; :mod:`icam.enforcement.patrols` and the
  modules it draws on (field imports, tracks, matching, plans, indicators) import them all or nothing,
  match alerts to observations (true or false positive), plan patrols and count the indicators.

The pipeline's enforcement stage, the ``icam enforcement`` commands and the report's section use them.
"""
