"""The HTML report: every table and map of a run in one self-contained file."""

import matplotlib

# every figure is drawn off-screen into PNG bytes: no display is needed, on a server or in the field office
matplotlib.use("Agg")
