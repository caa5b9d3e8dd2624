"""Forest change: masks, loss by period and zone, sample-based area estimation."""
