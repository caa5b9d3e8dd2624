"""The pipeline: the only reader of ``icam.toml``.

``runner`` (stages, cache, manifest, staging folder), ``config`` (the models of ``icam.toml``),
``project`` (the stage graph of one project run), ``stages/`` (one adapter per domain: its section
of ``icam.toml`` → the domain's typed parameters) and ``publish`` (outputs, then the registry).
"""
