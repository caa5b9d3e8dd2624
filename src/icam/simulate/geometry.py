"""The simulated landscape's polygons, lines and points (EPSG:32718), without rasters."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import shapely
import shapely.affinity

from icam.landscape.grid import Grid
from icam.simulate.params import (
    ADMIN_NAMES,
    CENTRE_XY,
    CRS_EPSG,
    RESOLUTION_M,
    TOWN_NAMES,
    VALLEY_ANGLE_DEG,
    ScaleParams,
    _rng,
    _scale,
)


@dataclass(frozen=True, eq=False)
class Geometry:
    """The simulated landscape's vectors (EPSG:32718, metres) and its grid."""

    scale: ScaleParams
    grid: Grid
    reference_region: shapely.Polygon
    project_area: shapely.Polygon
    leakage_belt: shapely.Geometry
    admin_units: list[tuple[str, shapely.Geometry]]
    river: shapely.Geometry
    highway: shapely.Geometry
    secondary_roads: list[shapely.Geometry]
    settlements: list[tuple[str, shapely.Point, int]]  # name, point, population
    frame: dict = field(default_factory=dict)  # valley frame: centre, angle, meander parameters

    def to_st(self, x, y):
        """Valley coordinates (s along the axis upstream, t across), km."""
        f = self.frame
        dx, dy = (np.asarray(x) - f["x0"]) / 1000, (np.asarray(y) - f["y0"]) / 1000
        c, s = math.cos(f["theta"]), math.sin(f["theta"])
        return dx * c + dy * s, -dx * s + dy * c

    def river_t(self, s_km):
        """Across-valley position of the river at along-valley position ``s_km``, km."""
        f = self.frame
        return sum(a * np.sin(2 * np.pi * np.asarray(s_km) / lam + ph) for a, lam, ph in f["meanders"])


def _xy(frame: dict, s_km, t_km):
    c, s = math.cos(frame["theta"]), math.sin(frame["theta"])
    s_km, t_km = np.asarray(s_km, float), np.asarray(t_km, float)
    return frame["x0"] + 1000 * (s_km * c - t_km * s), frame["y0"] + 1000 * (s_km * s + t_km * c)


def _smooth_closed(rng, n_harmonics: int, amplitude: float, phi: np.ndarray) -> np.ndarray:
    out = np.ones_like(phi)
    for k in range(2, 2 + n_harmonics):
        out += rng.uniform(0, amplitude) / (k / 2) * np.cos(k * phi + rng.uniform(0, 2 * np.pi))
    return out


def _reference_region(rng, bounds, side_m: float, phi: np.ndarray) -> shapely.Polygon:
    """A perturbed superellipse (exponent 4) rescaled so that its bounding box is the raster's extent."""
    r = _smooth_closed(rng, 5, 0.04, phi)
    cos, sin = np.cos(phi), np.sin(phi)
    sx = np.sign(cos) * np.abs(cos) ** 0.5 * r
    sy = np.sign(sin) * np.abs(sin) ** 0.5 * r
    sx = (sx - sx.min()) / (sx.max() - sx.min())
    sy = (sy - sy.min()) / (sy.max() - sy.min())
    region = shapely.Polygon(np.column_stack([np.round(bounds[0] + sx * side_m), np.round(bounds[1] + sy * side_m)]))
    return shapely.make_valid(region) if not region.is_valid else region


def _protected_forest(rng, p: ScaleParams, frame: dict, region, phi: np.ndarray, s_c: float, a_km: float,
                      b_km: float) -> tuple[shapely.Geometry, float]:
    """A perturbed ellipse along the valley, 75 km x 30 km at project scale, scaled to the scale's area;
    returns it and the scaling factor."""
    cos, sin = np.cos(phi), np.sin(phi)
    ellipse_r = a_km * b_km / np.sqrt((b_km * cos) ** 2 + (a_km * sin) ** 2)
    r = ellipse_r * _smooth_closed(rng, 6, 0.06, phi)
    px, py = _xy(frame, s_c + r * cos, r * sin)
    project = shapely.Polygon(np.column_stack([px, py]))
    project = shapely.make_valid(project) if not project.is_valid else project
    factor = math.sqrt(p.project_area_ha * 10_000 / project.area)
    project = shapely.affinity.scale(project, factor, factor, origin=project.centroid)
    return (project.intersection(region) if not region.contains(project) else project), factor


def _towns(rng, p: ScaleParams, highway, project) -> list[tuple[str, shapely.Point, int]]:
    """Settlements along the highway: towns outside the protected forest, villages inside it."""
    settlements: list[tuple[str, shapely.Point, int]] = []
    n_towns = max(2, int(highway.length / 1000 / p.town_spacing_km))
    positions = (np.arange(n_towns) + 0.5 + rng.uniform(-0.25, 0.25, n_towns)) / n_towns
    names = iter(TOWN_NAMES)
    for i, f in enumerate(positions):
        point = highway.interpolate(float(f), normalized=True)
        inside = project.contains(point)
        population = int(rng.lognormal(math.log(600 if inside else 6000), 0.6))
        if i == 0 and not inside:
            population = max(population, 40_000)  # Moyobamba, the regional capital
        settlements.append((next(names, f"Centro poblado {i + 1}"), point, population))
    return settlements


def _branch(rng, base, region, k: float) -> shapely.Geometry:
    """A wiggly road leaving ``base`` at a random point, roughly at right angles, 6–22 km (× k) long."""
    f = rng.uniform(0.05, 0.95)
    start = base.interpolate(f, normalized=True)
    ahead = base.interpolate(min(f + 0.01, 1.0), normalized=True)
    heading = math.atan2(ahead.y - start.y, ahead.x - start.x) + rng.choice([-1, 1]) * (math.pi / 2) \
        + rng.normal(0, 0.4)
    length_km = rng.uniform(6, 22) * k
    n_seg = 10
    headings = heading + np.cumsum(rng.normal(0, 0.2, n_seg))
    step = length_km * 1000 / n_seg
    xs = start.x + np.concatenate([[0], np.cumsum(step * np.cos(headings))])
    ys = start.y + np.concatenate([[0], np.cumsum(step * np.sin(headings))])
    return _longest(shapely.LineString(np.column_stack([xs, ys])).intersection(region))


def _secondary_roads(rng, p: ScaleParams, highway, project, region, settlements: list) -> list[shapely.Geometry]:
    """Branches off the highway, a hamlet at each end (appended to ``settlements``): the first 40 % of at most
    10 (4 at project scale, 2 at small scale) start inside the protected forest, the others anywhere along
    the highway; beyond the first 10 they leave the highway outside the protected forest."""
    secondary = []
    in_project = highway.intersection(project)
    n_inside = math.ceil(0.4 * min(p.n_secondary_roads, 10))
    outside = highway.difference(project)
    outside_parts = [g for g in getattr(outside, "geoms", [outside]) if g.geom_type == "LineString" and g.length > 2000]
    for i in range(p.n_secondary_roads):
        if i < n_inside and not in_project.is_empty:
            base = in_project
        elif i < 10 or not outside_parts:
            base = highway
        else:
            base = outside_parts[i % len(outside_parts)]
        road = _branch(rng, base, region, p.feature_scale)
        if road.is_empty or road.length < 500:
            continue
        secondary.append(road)
        name = f"Caserío {len(settlements) + 1}"
        settlements.append((name, shapely.Point(road.coords[-1]), int(rng.lognormal(math.log(300), 0.5))))
    return secondary


def _admin_units(rng, p: ScaleParams, region, side_m: float) -> list[tuple[str, shapely.Geometry]]:
    """Administrative units: Voronoi cells of random, well-spread points, clipped to the region."""
    names = ADMIN_NAMES[p.name]
    minx, miny, maxx, maxy = region.bounds
    seeds = []
    while len(seeds) < len(names):
        pt = shapely.Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if region.contains(pt) and all(pt.distance(q) > 0.5 * side_m / math.sqrt(len(names)) for q in seeds):
            seeds.append(pt)
    # ordered=True (shapely >= 2.1) keeps the cells in the order of the seeds
    cells = shapely.voronoi_polygons(shapely.MultiPoint(seeds), extend_to=region.envelope, ordered=True).geoms
    pieces = ((name, cell.intersection(region)) for name, cell in zip(names, cells))
    return [(name, piece) for name, piece in pieces if not piece.is_empty]


def build_geometry(scale: str = "project", seed: int = 42) -> Geometry:
    """Polygons, lines and points of the simulated landscape, without rasters (cheap).

    One generator draws everything in a fixed order (region, valley, protected forest, towns, roads,
    administrative units), so the same seed gives the same landscape.
    """
    p = _scale(scale)
    rng = _rng(seed, 1)
    k = p.feature_scale
    side_m = p.side_px * RESOLUTION_M
    xmin = math.floor((CENTRE_XY[0] - side_m / 2) / RESOLUTION_M) * RESOLUTION_M
    ymax = math.floor((CENTRE_XY[1] + side_m / 2) / RESOLUTION_M) * RESOLUTION_M
    bounds = (xmin, ymax - side_m, xmin + side_m, ymax)
    grid = Grid.from_bounds(CRS_EPSG, bounds, RESOLUTION_M)
    phi = np.linspace(0, 2 * np.pi, 721)[:-1]
    region = _reference_region(rng, bounds, side_m, phi)
    meanders = [(1.5 * k, 23.0 * k, rng.uniform(0, 2 * np.pi)), (0.6 * k, 7.0 * k, rng.uniform(0, 2 * np.pi))]
    frame = {"x0": (bounds[0] + bounds[2]) / 2, "y0": (bounds[1] + bounds[3]) / 2,
             "theta": math.radians(VALLEY_ANGLE_DEG), "meanders": meanders, "k": k}

    def river_t(s_km):
        return sum(a * np.sin(2 * np.pi * np.asarray(s_km) / lam + ph) for a, lam, ph in meanders)

    s_c, a_km, b_km = 8.0 * k, 37.5 * k, 15.0 * k
    project, factor = _protected_forest(rng, p, frame, region, phi, s_c, a_km, b_km)
    belt = project.buffer(p.leakage_belt_km * 1000, quad_segs=16).intersection(region).difference(project)
    # the river runs along the valley floor from edge to edge; the highway follows it 2.5 km off up to the
    # upper third of the project, then climbs out across the valley side (as PE-5N leaves the Alto Mayo
    # valley towards the Andes)
    half_diag_km = side_m / 1000 * 0.75
    s_line = np.linspace(-half_diag_km, half_diag_km, 1200)
    river = shapely.LineString(np.column_stack(_xy(frame, s_line, river_t(s_line)))).intersection(region)
    climb = np.clip(s_line - (s_c + 0.35 * a_km * factor), 0, None)
    t_high = river_t(s_line) * 0.7 + 2.5 * k + 0.9 * climb
    highway = _longest(shapely.LineString(np.column_stack(_xy(frame, s_line, t_high))).intersection(region))
    settlements = _towns(rng, p, highway, project)
    secondary = _secondary_roads(rng, p, highway, project, region, settlements)
    admin = _admin_units(rng, p, region, side_m)
    return Geometry(p, grid, region, project, belt, admin, river, highway, secondary, settlements, frame)


def _longest(geom: shapely.Geometry) -> shapely.Geometry:
    if geom.geom_type == "MultiLineString":
        return max(geom.geoms, key=lambda g: g.length)
    if geom.geom_type == "GeometryCollection":
        lines = [g for g in geom.geoms if g.geom_type == "LineString"]
        return max(lines, key=lambda g: g.length) if lines else shapely.LineString()
    return geom


