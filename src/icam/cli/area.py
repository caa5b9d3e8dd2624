"""``icam area``: sample designs for accuracy assessment, and error-adjusted areas from labelled samples.

- ``icam area design --map MAP.tif --out DIR``: draw a stratified, simple random or systematic
  sample from a map, and write DIR/samples.gpkg, DIR/samples.csv and DIR/strata.csv; with
  ``--project DIR --period A-B --target-er-half-width U`` its size is the one that brings the net
  reductions of the project's monitoring periods within A–B to a 90 % half-width of U % (from the last run).
- ``icam area estimate --samples SAMPLES.csv --strata STRATA.csv``: areas, accuracy and their
  95% intervals (Olofsson et al. 2014 when strata = map classes, Stehman 2014 otherwise);
  ``--json`` prints exactly ``AreaEstimate.to_dict()`` and nothing else on stdout.

Bad input exits with code 2 and one line ``error: ...`` (see :func:`icam.cli.errors.fail_cleanly`).
"""

from __future__ import annotations

import json
import math
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from icam.cli.errors import fail_cleanly
from icam.cli.options import console
from icam.core.errors import InputError

area_app = typer.Typer(add_completion=False, no_args_is_help=True,
                       help="Sample designs and sample-based (error-adjusted) area estimation.")


class DesignKind(str, Enum):
    """The sampling designs of `icam area design --design`."""

    stratified = "stratified"
    simple = "simple"
    systematic = "systematic"


class Allocation(str, Enum):
    """How a stratified sample is allocated to the strata (`--allocation`)."""

    proportional = "proportional"
    equal = "equal"
    neyman = "neyman"
    minimum = "minimum"


# --------------------------------------------------------------------------- estimate


def _fmt(v, spec: str = ",.0f") -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def _pm(v, ci, spec: str) -> str:
    return "–" if v is None else f"{format(v, spec)} ± {_fmt(ci, spec)}"


@area_app.command()
@fail_cleanly
def estimate(
    samples: Annotated[Path, typer.Option("--samples", help="Labelled samples: CSV (or GeoPackage) with stratum, "
                                          "map_class, ref_class.")],
    strata: Annotated[Path, typer.Option("--strata", help="Strata: CSV with stratum and area_ha, or mapped_px "
                                         "with --pixel-area-ha.")],
    pixel_area_ha: Annotated[Optional[float], typer.Option("--pixel-area-ha",
                                                           help="Area of one pixel in ha (0.09 at 30 m), "
                                                                "for a mapped_px column.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the estimate as JSON only.")] = False,
) -> None:
    """Error-adjusted areas and map accuracy, with SE and 95% confidence intervals, from a labelled sample."""
    from icam.forest.area import stratified_estimate
    from icam.forest.labels import read_labels, read_strata

    table = read_strata(strata, pixel_area_ha)
    labels = read_labels(samples)
    areas = dict(zip(table["stratum"].tolist(), table["area_ha"].astype(float).tolist()))
    result = stratified_estimate(labels[["stratum", "map_class", "ref_class"]], areas)
    if as_json:
        d = result.to_dict()
        try:
            text = json.dumps(d, allow_nan=False)
        except ValueError:
            raise InputError("the estimate holds a value that is not a number",
                             "check that every stratum holds samples of varying labels") from None
        typer.echo(text)
        return
    _print_estimate(result, samples)


def _print_estimate(r, samples: Path) -> None:
    t = Table(title=f"Error-adjusted areas (ha), {r.n} samples from {samples.name}")
    t.caption = "± = 95% confidence interval half-width (1.96 SE)"
    for name in ("Class", "Mapped", "Estimated ± CI", "SE", "User's acc. ± CI", "Producer's acc. ± CI"):
        t.add_column(name, justify="left" if name == "Class" else "right")
    for c in r.classes:
        t.add_row(str(c), _fmt(r.mapped_area_ha.get(c)), _pm(r.area_ha[c], r.ci95_ha[c], ",.0f"),
                  _fmt(r.se_ha[c]), _pm(r.users_accuracy[c], r.users_accuracy_ci95[c], ".3f"),
                  _pm(r.producers_accuracy[c], r.producers_accuracy_ci95[c], ".3f"))
    console.print(t)
    console.print(f"Overall accuracy: {r.overall_accuracy:.3f} ± {r.overall_accuracy_ci95:.3f}   n = {r.n}")
    for title, m, spec in (("Error matrix, sample counts", r.error_matrix_counts, "d"),
                           ("Error matrix, proportions of area", r.error_matrix_proportions, ".4f")):
        em = Table(title=f"{title} (rows: map, columns: reference)")
        em.add_column("map \\ ref")
        for c in m.cols:
            em.add_column(str(c), justify="right")
        em.add_column("total", justify="right")
        for i, row_class in enumerate(m.rows):
            row = m.values[i]
            em.add_row(str(row_class), *(format(v, spec) for v in row), format(row.sum(), spec))
        em.add_row("total", *(format(v, spec) for v in m.values.sum(axis=0)), format(m.values.sum(), spec))
        console.print(em)
    console.print(f"Estimator: {r.estimator}")


# --------------------------------------------------------------------------- design


def _read_map(path: Path, what: str, nodata, read: bool = True):
    """(the map's values, or None where ``read`` is false, its grid, its no-data value)."""
    from icam.landscape.grid import Grid
    from icam.landscape.raster import open_raster

    with open_raster(path, what) as src:
        if src.crs.is_geographic:
            raise InputError(f"{what}: {path} is in a geographic CRS (degrees)",
                             "warp it to a projected CRS in metres (e.g. UTM) first (gdalwarp -t_srs EPSG:xxxxx)")
        if src.count != 1:
            raise InputError(f"{what}: {path} has {src.count} bands", "give a single-band map of class codes")
        try:
            data = src.read(1) if read else None
        except Exception as exc:  # noqa: BLE001 - a truncated file
            raise InputError(f"{what}: {path} cannot be read ({' '.join(str(exc).split())[:160]})",
                             "check that it is a complete GeoTIFF") from None
        grid = Grid(src.crs.to_wkt(), src.transform, src.height, src.width)
        return data, grid, (nodata if nodata is not None else src.nodata)


def _expected_ua(text: Optional[str]):
    """``0.8`` for every stratum, or ``1=0.9,2=0.7,5=0.85`` per stratum."""
    if text is None:
        return None
    from icam.forest.labels import class_code

    try:
        if "=" not in text:
            return float(text)
        out = {}
        for part in text.split(","):
            k, v = part.split("=")
            out[class_code(k)] = float(v)
        return out
    except ValueError:
        raise InputError(f"--expected-ua {text!r} is neither a number nor a list like 1=0.9,2=0.7") from None


def _period_years(period: str | None) -> tuple[int, int]:
    try:
        start, end = (int(v) for v in (period or "").split("-"))
    except ValueError:
        raise InputError(f"--period must be START-END years such as 2000-2008, got {period!r}",
                         "give the period's first and last epoch") from None
    return start, end


def _size_for_target(project: Path | None, period: str | None, target_pct: float) -> int:
    """The sample size that brings the net reductions of every monitoring period within ``period`` to a
    half-width of ``target_pct`` (icam.pipeline.sizing), with a table of the periods."""
    from icam.pipeline.sizing import size_sample

    if project is None:
        raise InputError("--target-er-half-width sizes a project's sample from its last run",
                         "give --project DIR --period START-END")
    sizing = size_sample(project, *_period_years(period), target_pct)
    t = Table(title=f"Net reductions' 90 % half-width, {sizing.start_year}-{sizing.end_year} "
                    f"(sample of {sizing.n_now:,} now; target ±{target_pct:g} %)")
    for name in ("Monitoring period", "Now", "Exact activity data", "Sample ×"):
        t.add_column(name, justify="left" if name == "Monitoring period" else "right")
    for p in sizing.periods:
        t.add_row(f"{p.start} – {p.end}", _pct(p.half_width_pct), _pct(p.exact_half_width_pct),
                  "–" if p.factor is None else f"{p.factor:,.2f}")
    console.print(t)
    if sizing.n_needed is None:
        worst = max(sizing.periods, key=lambda p: p.exact_half_width_pct)
        where = f"no sample size gives ±{target_pct:g} % for {worst.start} – {worst.end}"
        if not math.isfinite(worst.exact_half_width_pct):
            raise InputError(f"{where}: its net reductions are 0 or less even with exact activity data",
                             "size its sample with --n")
        raise InputError(f"{where}: with exact activity data its half-width is still "
                         f"{_pct(worst.exact_half_width_pct)} (the baseline's and the emission factors' errors)",
                         f"aim at ±{math.ceil(worst.exact_half_width_pct)} % or more, or give --n")
    console.print(f"Sample size for ±{target_pct:g} %: {sizing.n_needed:,} ({sizing.factor:,.2f} × {sizing.n_now:,}, "
                  "the same allocation)")
    return sizing.n_needed


def _pct(u: float) -> str:
    return f"±{u:,.0f} %" if math.isfinite(u) else "∞"


def _project_period_map(project: Path, period: str | None):
    """The change map of one period of a project (classes of icam.forest.activity), its grid, nodata 0 and
    the strata the project's runs use (class by zone where [activity_data] strata says so, else None)."""
    from icam.forest.activity import OUTSIDE, activity_map, activity_zone, strata_by_zone
    from icam.pipeline.config import load_config
    from icam.pipeline.stages.landscape import load_landscape

    start, end = _period_years(period)
    config = load_config(project)
    landscape = load_landscape(config)
    zone_name = config.activity_data.zone if config.activity_data else "reference_region"
    if zone_name not in landscape.zones.masks():
        zone_name = "grid"
    zone = activity_zone(landscape.zones, landscape.grid.shape, zone_name)
    classes = activity_map(landscape.forest, zone, start, end)
    by_zone = config.activity_data is not None and config.activity_data.by_zone
    return classes, landscape.grid, OUTSIDE, strata_by_zone(classes, landscape.zones) if by_zone else None


@area_app.command()
@fail_cleanly
def design(
    out: Annotated[Path, typer.Option("--out", help="Folder for samples.gpkg, samples.csv and strata.csv.")],
    map_path: Annotated[Optional[Path], typer.Option("--map", help="Map to sample (GeoTIFF of class codes, "
                                                     "projected CRS).")] = None,
    project: Annotated[Optional[Path], typer.Option("--project", help="Instead of --map: a project folder; samples "
                                                    "the period's change map (1 stable forest, 2 loss, 3 non-forest) "
                                                    "over the activity_data zone of icam.toml, in its strata.")] = None,
    period: Annotated[Optional[str], typer.Option("--period", help="With --project: START-END epochs, e.g. "
                                                  "2000-2008.")] = None,
    strata_map: Annotated[Optional[Path], typer.Option("--strata-map", help="Strata raster on the map's grid "
                                                       "(default: the map classes).")] = None,
    design_kind: Annotated[DesignKind, typer.Option("--design", help="Sampling design.")] = DesignKind.stratified,
    n: Annotated[Optional[int], typer.Option("--n", help="Total sample size.")] = None,
    allocation: Annotated[Allocation, typer.Option(help="Allocation to strata.")] = Allocation.proportional,
    min_per_stratum: Annotated[int, typer.Option(help="Minimum per rare stratum (--allocation minimum).")] = 50,
    target_se: Annotated[Optional[float], typer.Option("--target-se", help="Target SE of overall accuracy, "
                                                       "to size the sample when --n is not given.")] = None,
    expected_ua: Annotated[Optional[str], typer.Option("--expected-ua", help="Expected user's accuracy: 0.8, or "
                                                       "per stratum 1=0.9,2=0.7.")] = None,
    spacing_m: Annotated[Optional[float], typer.Option("--spacing-m", help="Systematic design: spacing in metres "
                                                       "(else from --n).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same sample.")] = 42,
    nodata: Annotated[Optional[float], typer.Option("--nodata", help="Map value to leave out (default: the "
                                                    "file's nodata).")] = None,
    target_er: Annotated[Optional[float], typer.Option("--target-er-half-width", help="With --project and --period: "
                                                       "size the sample so that the net reductions of every "
                                                       "monitoring period within those years have a 90 % "
                                                       "half-width of at most this % (from the last run).")] = None,
) -> None:
    """Draw a sample from a map and write it for labelling (Collect Earth, AcATaMa, QGIS)."""
    from icam.forest import sampling as S

    if (map_path is None) == (project is None):
        raise InputError("give either --map MAP.tif or --project DIR --period START-END",
                         "see `icam area design --help`")
    if target_er is not None:
        if n is not None or target_se is not None:
            raise InputError("--target-er-half-width sets the sample size", "leave out --n and --target-se")
        n = _size_for_target(project, period, target_er)
    project_strata = None
    if project is not None:
        data, grid, map_nodata, project_strata = _project_period_map(project, period)
    else:
        data, grid, map_nodata = _read_map(map_path, "--map", nodata)
    if design_kind is DesignKind.stratified:
        strata = project_strata  # the project's own strata (class by zone), unless --strata-map is given
        strata_nodata = None if project_strata is None else 0
        if strata_map is not None:
            strata, sgrid, strata_nodata = _read_map(strata_map, "--strata-map", None)
            if not sgrid.same_as(grid):
                raise InputError(f"--strata-map: {strata_map} is not on the map's grid "
                                 f"({sgrid.shape[1]}x{sgrid.shape[0]} vs {grid.shape[1]}x{grid.shape[0]} px, "
                                 "or another CRS or origin)", "warp it onto the map's grid first")
        d = S.stratified_design(data, grid, strata=strata, n_total=n, allocation=allocation.value,
                                min_per_stratum=min_per_stratum, expected_users_accuracy=_expected_ua(expected_ua),
                                target_se=target_se, nodata=map_nodata, strata_nodata=strata_nodata, seed=seed)
    elif design_kind is DesignKind.simple:
        if n is None:
            raise InputError("a simple random design needs a sample size", "give --n")
        d = S.simple_random_design(data, grid, n=n, nodata=map_nodata, seed=seed)
    else:
        if n is None and spacing_m is None:
            raise InputError("a systematic design needs a sample size or a spacing", "give --n or --spacing-m")
        d = S.systematic_design(data, grid, n=n, spacing_m=spacing_m, nodata=map_nodata, seed=seed)
    paths = S.export_points(d, out)

    t = Table(title=f"{d.design} design, {d.n} samples (seed {d.seed})")
    for name in ("Stratum", "Mapped px", "Area (ha)", "n"):
        t.add_column(name, justify="left" if name == "Stratum" else "right")
    for row in d.strata.itertuples(index=False):
        t.add_row(str(row.stratum), f"{int(row.mapped_px):,}", f"{row.area_ha:,.1f}", str(int(row.n)))
    console.print(t)
    extra = {k: v for k, v in d.params.items() if k not in ("allocation",)}
    if d.design == S.STRATIFIED:
        console.print(f"Allocation: {d.params['allocation']}" + (f"; {extra}" if extra else ""))
    elif extra:
        console.print(f"Settings: {extra}")
    for key in ("gpkg", "csv", "strata"):
        console.print(f"Wrote {paths[key].resolve()}", soft_wrap=True, markup=False, highlight=False)
