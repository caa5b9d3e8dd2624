"""Patrols, in the spirit of SMART: one name for the enforcement registry's families of functions.

- :mod:`icam.enforcement.field_imports`: patrols (CSV), observations (ODK / KoboToolbox exports) and
  follow-up actions, all or nothing (the reading rules of :mod:`icam.store.forms`);
- :mod:`icam.enforcement.tracks`: GPS tracks (GPX) of the registry's patrols, and their effort;
- :mod:`icam.enforcement.matching`: observations matched to the deforestation alerts they check;
- :mod:`icam.enforcement.plans`: patrol plans to the open alerts;
- :mod:`icam.enforcement.indicators`: the enforcement indicators of the monitoring report.
"""

from __future__ import annotations

from icam.enforcement.field_imports import (
    ACTION_COLUMNS,
    OBSERVATION_COLUMNS,
    PATROL_COLUMNS,
    ObservationReport,
    import_actions,
    import_observations,
    import_patrols,
)
from icam.enforcement.indicators import indicators
from icam.enforcement.matching import TRUE_CATEGORIES, VERDICT_CATEGORIES, Match, match_alerts
from icam.enforcement.plans import PRIORITY_RANK, plan_patrol, release_lapsed
from icam.enforcement.tracks import (
    MAX_OUTSIDE_M,
    TrackReport,
    import_gpx_track,
    import_gpx_tracks,
    read_gpx,
    track_length_m,
)

__all__ = ["ACTION_COLUMNS", "MAX_OUTSIDE_M", "OBSERVATION_COLUMNS", "PATROL_COLUMNS", "PRIORITY_RANK",
           "TRUE_CATEGORIES", "VERDICT_CATEGORIES", "Match", "ObservationReport", "TrackReport", "import_actions",
           "import_gpx_track", "import_gpx_tracks", "import_observations", "import_patrols", "indicators",
           "match_alerts", "plan_patrol", "read_gpx", "release_lapsed", "track_length_m"]
