"""The bottom layer: errors, atomic file writes and units, imported by every other package."""
