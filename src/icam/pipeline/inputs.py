"""The input files a configuration names: paths and glob patterns expanded, missing files refused by key."""

from __future__ import annotations

import glob
from pathlib import Path

from icam.core.errors import InputError
from icam.pipeline.config import IcamConfig

_SHAPEFILE_SIDECARS = (".shx", ".dbf", ".prj", ".cpg")


def expand_input(key: str, pattern: Path) -> list[Path]:
    """A configured path or glob pattern → the existing files it names (InputError if none)."""
    text = str(pattern)
    if glob.has_magic(text):
        matches = sorted(Path(p) for p in glob.glob(text))
        if not matches:
            raise InputError(f"'{key}' pattern {text} matches no file", "check the path in icam.toml")
        return matches
    if pattern.is_dir():
        raise InputError(f"'{key}' {text} is a folder, not a file", "name the file itself in icam.toml")
    if not pattern.is_file():
        raise InputError(f"'{key}' file {text} does not exist", "check the path in icam.toml")
    if pattern.suffix.lower() == ".shp":
        return [pattern] + [p for ext in _SHAPEFILE_SIDECARS if (p := pattern.with_suffix(ext)).is_file()]
    return [pattern]


def config_input_files(config: IcamConfig) -> list[Path]:
    """Every file the configuration names, globs expanded; refuses missing files by key."""
    files = landscape_input_files(config)
    if config.activity_data is not None:
        for i, assessment in enumerate(config.activity_data.assessments):
            files += expand_input(f"activity_data.assessments[{i}].samples", assessment.samples)
    if config.risk is not None:
        for name, path in config.risk.covariates:
            if path is not None:
                files += expand_input(f"risk.covariates.{name}", path)
    return sorted(set(files))


def landscape_input_files(config: IcamConfig) -> list[Path]:
    """The files ``[boundaries]`` and ``[forest]`` name, globs expanded (the landscape's inputs)."""
    files: list[Path] = []
    for name in ("project_area", "leakage_belt", "reference_region", "admin_units"):
        path = getattr(config.boundaries, name)
        if path is not None:
            files += expand_input(f"boundaries.{name}", path)
    for name, value in config.forest:
        if isinstance(value, Path):
            files += expand_input(f"forest.{name}", value)
        elif isinstance(value, list) and value and isinstance(value[0], Path):
            for item in value:
                files += expand_input(f"forest.{name}", item)
        elif isinstance(value, dict) and value and isinstance(next(iter(value.values())), Path):
            for year, item in value.items():
                files += expand_input(f"forest.{name}.{year}", item)
    return files


def file_stamp(path: Path) -> tuple:
    """A file's path, size and modification time: what says, in one process, that it has not changed."""
    try:
        st = Path(path).stat()
    except OSError:
        return (str(path), None)  # reading it will say what is wrong
    return (str(path), st.st_size, st.st_mtime_ns)


def section_input_files(config: IcamConfig, section: str) -> list[Path]:
    """Every file a section of icam.toml names (its path keys, globs expanded), refused by key where missing:
    ``[agreements]`` (they seed the registry on the first run), ``[enforcement]`` (alerts, distance layers,
    patrol files)."""
    values = getattr(config, section)
    if values is None:
        return []
    return [file for name, value in values if isinstance(value, Path)
            for file in expand_input(f"{section}.{name}", value)]
