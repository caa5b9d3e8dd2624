"""The Alto Mayo scenario simulator: writes a project folder and its truth.

It sits outside the spine: only ``icam demo`` and the tests import it. The truth it records in
``truth/`` is the referee of every number the pipeline produces.
"""

from icam.simulate.scenario import simulate

__all__ = ["simulate"]
