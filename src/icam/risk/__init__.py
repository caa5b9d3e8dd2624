"""Deforestation risk maps: the VT0007 benchmark (:mod:`icam.risk.benchmark`) and map assessment
(:mod:`icam.risk.validate`)."""
