"""The HTML report: every table and map of a run in one self-contained file."""
