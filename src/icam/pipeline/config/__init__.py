"""The project configuration, ``icam.toml``, validated by pydantic.

Every field carries its meaning and unit in ``description``; ``icam init`` writes a
commented template from the same models. Unknown keys and impossible values are refused
with the key's dotted name (:func:`load_config` turns pydantic's errors into one
:class:`~icam.core.errors.ConfigError` line).
"""


from __future__ import annotations

from pathlib import Path

import tomllib
from pydantic import ValidationError, model_validator

from icam.core.errors import ConfigError
from icam.pipeline.config.base import CONFIG_NAME, Year, _Section
from icam.pipeline.config.carbon import CarbonPool, CarbonSection, CarbonStratum, StockPairs
from icam.pipeline.config.field import (
    AgreementsSection,
    EnforcementSection,
    LandUseOption,
    PrioritySection,
    RevenueSection,
)
from icam.pipeline.config.landscape import (
    BoundariesSection,
    FccSource,
    ForestMapsSource,
    ForestSource,
    GridSection,
    HansenSource,
    LandcoverStackSource,
    LossYearSource,
    ProjectSection,
)
from icam.pipeline.config.monitoring import (
    RISK_MODELS,
    ActivityDataSection,
    Assessment,
    BaselineSection,
    CounterfactualSection,
    MonitoringPeriod,
    PeriodsSection,
    RiskCovariates,
    RiskSection,
    RiskZone,
)

__all__ = ["CONFIG_NAME", "RISK_MODELS", "ActivityDataSection", "AgreementsSection", "Assessment", "BaselineSection",
           "BoundariesSection", "CarbonPool", "CarbonSection", "CarbonStratum", "CounterfactualSection",
           "EnforcementSection", "FccSource", "ForestMapsSource", "ForestSource", "GridSection", "HansenSource",
           "IcamConfig", "LandUseOption", "LandcoverStackSource", "LossYearSource", "MonitoringPeriod",
           "PeriodsSection", "PrioritySection", "ProjectSection", "RevenueSection", "RiskCovariates", "RiskSection",
           "RiskZone", "StockPairs", "Year", "decode_text", "load_config", "parse_config"]


class IcamConfig(_Section):
    """The whole icam.toml."""

    project: ProjectSection
    grid: GridSection
    boundaries: BoundariesSection = BoundariesSection()
    forest: ForestSource
    periods: PeriodsSection | None = None
    activity_data: ActivityDataSection | None = None
    risk: RiskSection | None = None
    baseline: BaselineSection | None = None
    carbon: CarbonSection | None = None
    agreements: AgreementsSection | None = None
    enforcement: EnforcementSection | None = None
    counterfactual: CounterfactualSection | None = None

    @model_validator(mode="after")
    def _risk_needs_periods(self):
        if self.risk is not None and self.periods is None:
            raise ValueError("[risk] needs [periods] (its calibration and confirmation periods)")
        if self.baseline is not None and self.risk is None:
            raise ValueError("[baseline] needs [risk] (the map that places the baseline deforestation)")
        if self.carbon is not None and self.baseline is None:
            raise ValueError("[carbon] needs [baseline] (the baseline deforestation the credits are measured against)")
        if self.carbon is not None and not self.periods.monitoring:
            raise ValueError("[carbon] needs monitoring periods ([periods] monitoring)")
        if self.counterfactual is not None and self.carbon is None:
            raise ValueError("[counterfactual] needs [carbon] (the baseline and the monitoring periods it checks)")
        return self


_KINDS = ("hansen", "forest_maps", "fcc", "landcover_stack", "loss_year")
_TEMPLATE_HINT = "`icam init` writes a template documenting every key"


def _dotted(loc: tuple) -> str:
    parts = [str(p) for p in loc if not str(p).startswith(("function-", "model-"))]
    # pydantic inserts the discriminator's value (e.g. 'hansen') after 'forest'
    if len(parts) >= 2 and parts[0] == "forest" and parts[1] in _KINDS:
        parts.pop(1)
    return ".".join(parts)


def _describe(error: dict) -> tuple[str, str]:
    """(what is wrong, how to fix it) for pydantic's first error."""
    key = _dotted(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown key '{key}' in {CONFIG_NAME}", f"remove it or check its spelling ({_TEMPLATE_HINT})"
    if kind == "missing":
        return f"missing key '{key}' in {CONFIG_NAME}", f"add it ({_TEMPLATE_HINT})"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return f"'{key}.kind' is not a forest format in {CONFIG_NAME}", f"set it to one of {', '.join(_KINDS)}"
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    shown = f" = {value!r}"[:80] if value is not None and not isinstance(value, dict) else ""
    where = f"'{key}'{shown}" if key else CONFIG_NAME
    problem, _, fix = message.partition("; ")  # a validator's message may end with its own fix
    return f"{where}: {problem} in {CONFIG_NAME}", fix or f"fix it ({_TEMPLATE_HINT})"


def parse_config(data: dict, base_dir: Path) -> IcamConfig:
    """Validate a parsed TOML mapping; relative paths are resolved against ``base_dir``."""
    try:
        config = IcamConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(*_describe(exc.errors()[0])) from None
    return _resolve_paths(config, base_dir)


def decode_text(raw: bytes) -> str:
    """A text file as users save it: UTF-8 (with or without a BOM), UTF-16 with a BOM (Windows' "Unicode"),
    else Windows-1252 / Latin-1 (Windows' "ANSI" in Spanish or Portuguese)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def load_config(path: Path) -> IcamConfig:
    """Read and validate ``icam.toml`` (a file, or a project folder holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / CONFIG_NAME
    if not path.exists():
        raise ConfigError(f"no {path.name} at {path.parent}",
                          f"run `icam init {path.parent}` to write a documented template")
    if not path.is_file():
        raise ConfigError(f"{path} is not a file", f"move it away and run `icam init {path.parent}`")
    try:
        text = decode_text(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"{path} cannot be read ({exc.strerror})", "check the file's permissions") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc})", "fix the syntax at the line given") from None
    return parse_config(data, path.parent.resolve())


def _resolve_paths(config: IcamConfig, base_dir: Path) -> IcamConfig:
    def resolve(value):
        if isinstance(value, Path):
            return value if value.is_absolute() else base_dir / value
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        return value

    boundaries = config.boundaries.model_copy(update={
        name: resolve(getattr(config.boundaries, name))
        for name in ("project_area", "leakage_belt", "reference_region", "admin_units")
    })
    forest = config.forest.model_copy(update={
        name: resolve(getattr(config.forest, name))
        for name, field in type(config.forest).model_fields.items()
        if name in ("treecover2000", "lossyear", "datamask", "maps", "file", "forest_start", "loss_year")
    })
    update = {"boundaries": boundaries, "forest": forest}
    if config.risk is not None:
        covariates = config.risk.covariates.model_copy(update={
            name: resolve(getattr(config.risk.covariates, name)) for name in RiskCovariates.model_fields})
        update["risk"] = config.risk.model_copy(update={"covariates": covariates})
    if config.activity_data is not None:
        assessments = [a.model_copy(update={"samples": resolve(a.samples)}) for a in config.activity_data.assessments]
        update["activity_data"] = config.activity_data.model_copy(update={"assessments": assessments})
    if config.agreements is not None:
        update["agreements"] = config.agreements.model_copy(update={
            name: resolve(getattr(config.agreements, name)) for name in
            ("households", "parcels", "agreements", "benefit_schedule", "deliveries", "field_verifications",
             "grievances", "members")})
    if config.carbon is not None:
        update["carbon"] = config.carbon.model_copy(update={
            name: resolve(getattr(config.carbon, name)) for name in ("strata_raster", "inventory", "wood_density")})
    if config.enforcement is not None:
        update["enforcement"] = config.enforcement.model_copy(update={
            name: resolve(getattr(config.enforcement, name)) for name in
            ("alerts", "roads", "settlements", "patrols", "tracks", "observations", "actions")})
    return config.model_copy(update=update)

