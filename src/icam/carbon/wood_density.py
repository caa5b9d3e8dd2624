"""Wood density from the Global Wood Density Database: by species, then genus, then family, then the stand
(plot) or dataset mean, each with a standard deviation (R's BIOMASS ``getWoodDensity``, Réjou-Méchain et
al. 2017). Formulas and sources: docs/methods.md, "Carbon stocks from tree inventories".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from icam.carbon.allometry import as_float, csv_rows
from icam.core.errors import InputError

LEVELS = ("species", "genus", "family", "stand", "dataset")
#: BIOMASS: taxa with at least this many records define the mean SD of a taxonomic level (``sd_10``).
MIN_RECORDS_FOR_SD = 10
#: Truncation bounds of simulated wood density (the GWDD's minimum and maximum; BIOMASS ``AGBmonteCarlo``).
WD_MIN_G_CM3, WD_MAX_G_CM3 = 0.08, 1.39
_UNDETERMINED = {"", "na", "nan", "none", "sp", "sp.", "spp", "spp.", "indet", "indet.", "unknown"}


def _norm(name) -> str:
    """Name as matched: trimmed, lower case; '' for undetermined (sp., Indet., empty, NA)."""
    s = "" if name is None else str(name).strip().lower()
    return "" if s in _UNDETERMINED or s.startswith("indet") else s


@dataclass(frozen=True, eq=False)
class WoodDensityEstimate:
    """Wood density of each tree with its SD and the level it came from.

    wd_g_cm3, sd_g_cm3: float64 per tree; level: str per tree, one of :data:`LEVELS`; n_records:
    GWDD records (species level), taxa (genus and family levels: species resp. genera averaged) or
    trees (stand and dataset levels) behind the value. Unpacks as ``wd, sd, level = estimate``.
    """

    wd_g_cm3: np.ndarray
    sd_g_cm3: np.ndarray
    level: np.ndarray
    n_records: np.ndarray

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.wd_g_cm3, self.sd_g_cm3, self.level))

    def level_counts(self) -> dict[str, int]:
        return {lv: int(np.count_nonzero(self.level == lv)) for lv in LEVELS}

    def level_shares(self) -> dict[str, float]:
        n = max(self.level.size, 1)
        return {lv: c / n for lv, c in self.level_counts().items()}

    def to_dict(self) -> dict:
        return {"n_trees": int(self.level.size), "level_counts": self.level_counts(),
                "mean_wd_g_cm3": float(np.mean(self.wd_g_cm3)) if self.level.size else None}


class WoodDensityTable:
    """The Global Wood Density Database (Chave et al. 2009; Zanne et al. 2009), or any table like it.

    Means follow BIOMASS ``getWoodDensity``: a species' value is the mean of its records; a genus'
    the mean of its species' means (records named to genus only count as one pseudo-species); a
    family's the mean of its genera's means. SDs per level follow BIOMASS's ``sd_10``: the mean,
    over taxa with at least 10 records in the whole table, of the SD of their records
    (recomputed from the table loaded, all regions; override with ``level_sd``). On the GWDD
    shipped with BIOMASS (16,467 records) this gives 0.0708 (species), 0.0942 (genus) and 0.1242
    (family) g/cm³.
    """

    def __init__(self, family: Sequence[str], genus: Sequence[str], species: Sequence[str], wd_g_cm3,
                 region: Sequence[str] | None = None, level_sd: Mapping[str, float] | None = None) -> None:
        wd = as_float("wood density", wd_g_cm3, positive=True)
        n = wd.size
        if not (len(family) == len(genus) == len(species) == n) or (region is not None and len(region) != n):
            raise InputError("the wood-density table's columns differ in length")
        self._family = [_norm(f) for f in family]
        self._genus = [_norm(g) for g in genus]
        self._species = [_norm(s) for s in species]
        self._wd = wd
        self._region = None if region is None else [str(r).strip().lower() for r in region]
        self.level_sd = dict(level_sd) if level_sd is not None else self._level_sd()
        self._means: dict = {}

    @classmethod
    def from_csv(cls, path: str | Path, level_sd: Mapping[str, float] | None = None) -> WoodDensityTable:
        """Read a GWDD CSV with columns family, genus, species, wd (g/cm³) and optional region/regionId."""
        path = Path(path)
        rows = csv_rows(path, "wood-density table", ("family", "genus", "species", "wd"))
        region = None
        if "regionId" in rows[0] or "region" in rows[0]:
            # Both spellings match: "SouthAmericaTrop" (regionId) and "South_America_(tropical)" (region).
            region = [f"{r.get('regionId', '')}|{r.get('region', '')}" for r in rows]
        return cls([r["family"] for r in rows], [r["genus"] for r in rows], [r["species"] for r in rows],
                   [float(r["wd"]) for r in rows], region=region, level_sd=level_sd)

    @property
    def regions(self) -> list[str]:
        return sorted({p for r in (self._region or []) for p in r.split("|") if p})

    def __len__(self) -> int:
        return self._wd.size

    def _level_sd(self) -> dict[str, float]:
        groups: dict[str, dict] = {level: defaultdict(list) for level in ("species", "genus", "family")}
        for f, g, s, w in zip(self._family, self._genus, self._species, self._wd):
            if g and s:
                groups["species"][(g, s)].append(w)
            if g:
                groups["genus"][g].append(w)
            if f:
                groups["family"][f].append(w)
        out = {}
        for level, taxa in groups.items():
            sds = [np.std(v, ddof=1) for v in taxa.values() if len(v) >= MIN_RECORDS_FOR_SD]
            out[level] = float(np.mean(sds)) if sds else float("nan")
        return out

    def _select(self, region) -> np.ndarray:
        if region is None:
            return np.ones(self._wd.size, dtype=bool)
        wanted = {region.lower()} if isinstance(region, str) else {r.lower() for r in region}
        if self._region is None:
            raise InputError("the wood-density table has no region column", "look up without region")
        sel = np.array([bool(wanted & set(r.split("|"))) for r in self._region])
        if not sel.any():
            raise InputError(f"no wood-density record in region {region!r}", f"choose among {', '.join(self.regions)}")
        return sel

    def _taxon_means(self, region) -> tuple[dict, dict, dict]:
        key = None if region is None else (region if isinstance(region, str) else tuple(region))
        if key in self._means:
            return self._means[key]
        sel = self._select(region)
        sp: dict = defaultdict(list)  # (genus, species or '') → records
        fam_of_genus: dict = defaultdict(set)
        for i in np.flatnonzero(sel):
            g = self._genus[i]
            if g:
                sp[(g, self._species[i])].append(self._wd[i])
                if self._family[i]:
                    fam_of_genus[g].add(self._family[i])
        species = {k: (float(np.mean(v)), len(v)) for k, v in sp.items()}
        by_genus: dict = defaultdict(list)
        for (g, _), (m, _) in species.items():
            by_genus[g].append(m)
        genus = {g: (float(np.mean(v)), len(v)) for g, v in by_genus.items()}
        by_family: dict = defaultdict(list)
        for g, fams in fam_of_genus.items():
            for f in fams:
                by_family[f].append(genus[g][0])
        family = {f: (float(np.mean(v)), len(v)) for f, v in by_family.items()}
        species = {k: v for k, v in species.items() if k[1]}  # genus-only records never match a species
        self._means[key] = (species, genus, family)
        return self._means[key]

    def lookup(self, family, genus, species, region=None, stand=None) -> WoodDensityEstimate:
        """Wood density of each tree: species mean, else genus, else family, else stand or dataset mean.

        ``family``, ``genus``, ``species``: names per tree (``family`` may be None: no family level,
        BIOMASS's default). Names match case-insensitively; "sp.", "Indet…", empty and NA never
        match. ``region``: a regionId (e.g. "SouthAmericaTrop") or region name, or several, to
        restrict the database (BIOMASS ``region``); None = world. ``stand``: plot id per tree;
        trees left unmatched get their stand's mean of the matched trees' values with its SD across
        those trees (level "stand"), or, without ``stand`` or where the stand has fewer than two
        matched trees, the dataset's (level "dataset").
        """
        genus = np.asarray(genus, dtype=object)
        species = np.asarray(species, dtype=object)
        n = genus.size
        family = np.full(n, "", dtype=object) if family is None else np.asarray(family, dtype=object)
        if not (family.size == species.size == n):
            raise InputError(f"{family.size} families, {n} genera and {species.size} species: lengths differ")
        sp_means, gen_means, fam_means = self._taxon_means(region)
        codes, uniques = [], []
        for col in (family, genus, species):
            u, inv = np.unique(col.astype(str), return_inverse=True)
            codes.append(inv.ravel())
            uniques.append([_norm(x) for x in u])
        taxa, taxon_of_tree = np.unique(np.stack(codes, axis=1), axis=0, return_inverse=True)
        taxon_of_tree = taxon_of_tree.ravel()
        t_wd = np.full(len(taxa), np.nan)
        t_sd = np.full(len(taxa), np.nan)
        t_n = np.zeros(len(taxa), dtype=np.int64)
        t_level = np.full(len(taxa), "", dtype=object)
        for t, (fi, gi, si) in enumerate(taxa):
            f, g, s = uniques[0][fi], uniques[1][gi], uniques[2][si]
            for level, hit in (("species", sp_means.get((g, s)) if g and s else None),
                               ("genus", gen_means.get(g) if g else None),
                               ("family", fam_means.get(f) if f else None)):
                if hit is not None:
                    t_wd[t], t_n[t], t_level[t], t_sd[t] = hit[0], hit[1], level, self.level_sd[level]
                    break
        wd, sd, nrec, level = t_wd[taxon_of_tree], t_sd[taxon_of_tree], t_n[taxon_of_tree], t_level[taxon_of_tree]
        found = level != ""
        if not found.any():
            raise InputError("no tree matched the wood-density database at species, genus or family level",
                             "check the taxonomy columns (genus and species names, families)")
        if stand is not None:
            stand = np.asarray(stand).astype(str)
            if stand.size != n:
                raise InputError(f"{stand.size} stand ids for {n} trees")
            for st in np.unique(stand[~found]):
                in_st = stand == st
                ref = wd[in_st & found]
                if ref.size >= 2:
                    fill = in_st & ~found
                    wd[fill], sd[fill], nrec[fill], level[fill] = ref.mean(), ref.std(ddof=1), ref.size, "stand"
        rest = level == ""
        if rest.any():
            ref = wd[found]
            wd[rest] = ref.mean()
            sd[rest] = ref.std(ddof=1) if ref.size >= 2 else self.level_sd["family"]
            nrec[rest] = ref.size
            level[rest] = "dataset"
        return WoodDensityEstimate(wd, sd, level.astype(str), nrec)


