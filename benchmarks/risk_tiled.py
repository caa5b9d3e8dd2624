"""`icam risk benchmark` block by block on mosaics of a real change map: seconds per megapixel and memory.

The map is riskmapjnr's Guadeloupe change map (``../shared/data/guadeloupe/fcc123_GLP_utm20n.tif``, 2934 x
3186 px at 30 m, 9.3 Mpx). A mosaic of R x C copies of it is a GDAL VRT (no pixel is copied: each tile is a
window of the same file), so a ~250 Mpx map is 27 tiles and a ~1 Gpx one 110. Each run is the command a
user would type, in a fresh process, with the change map read by window:

- ``untiled``: the 9.3 Mpx file, ``--scheduler processes``;
- ``tiled``: the ~250 Mpx mosaic, ``--scheduler processes``;
- ``cluster`` (with ``--gpx``): the ~1 Gpx mosaic on a two-worker dask.distributed LocalCluster started here,
  ``--scheduler tcp://...``.

Memory is the peak, sampled every 0.2 s, of the resident memory summed over every process of the run: the
command, its worker processes, and the cluster's scheduler and workers (psutil). Prints a Markdown table
with seconds per Mpx and its ratio to the untiled run; the rows go to benchmarks/risk_tiled.json.

    python benchmarks/risk_tiled.py            # untiled and ~250 Mpx
    python benchmarks/risk_tiled.py --gpx      # and ~1 Gpx on a LocalCluster

Never part of `make test`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import rasterio

from memory import PeakMemory

HERE = Path(__file__).resolve().parent
SOURCE = "guadeloupe/fcc123_GLP_utm20n.tif"
SERVER = "import sys\nfrom icam.cli import app\napp(sys.argv[1:], prog_name='icam')\n"


def shared_data() -> Path | None:
    folder = Path(os.environ.get("ICAM_SHARED_DATA", HERE.parent.parent / "shared" / "data"))
    return folder if folder.is_dir() else None


def mosaic(source: Path, rows: int, cols: int, path: Path) -> Path:
    """A VRT of ``rows`` x ``cols`` copies of ``source`` side by side (its own grid extended east and south)."""
    with rasterio.open(source) as src:
        height, width, t = src.height, src.width, src.transform
        dtype, nodata, crs = src.dtypes[0], src.nodata, src.crs.to_wkt()
    sources = "".join(
        f"<SimpleSource><SourceFilename relativeToVRT=\"0\">{source}</SourceFilename><SourceBand>1</SourceBand>"
        f"<SrcRect xOff=\"0\" yOff=\"0\" xSize=\"{width}\" ySize=\"{height}\"/>"
        f"<DstRect xOff=\"{c * width}\" yOff=\"{r * height}\" xSize=\"{width}\" ySize=\"{height}\"/></SimpleSource>"
        for r in range(rows) for c in range(cols))
    nodata_xml = f"<NoDataValue>{nodata}</NoDataValue>" if nodata is not None else ""
    path.write_text(
        f"<VRTDataset rasterXSize=\"{cols * width}\" rasterYSize=\"{rows * height}\"><SRS>{crs}</SRS>"
        f"<GeoTransform>{t.c}, {t.a}, 0, {t.f}, 0, {t.e}</GeoTransform>"
        f"<VRTRasterBand dataType=\"{'Byte' if dtype == 'uint8' else dtype}\" band=\"1\">{nodata_xml}{sources}"
        "</VRTRasterBand></VRTDataset>", encoding="utf-8")
    return path


def run(label: str, fcc: Path, out: Path, scheduler: str, cluster_here: bool = False) -> dict:
    """``icam risk benchmark --fcc FCC --scheduler S --out OUT --json`` in a fresh process, measured (with
    ``cluster_here``, the memory of this process's whole tree: the command and the cluster it runs on)."""
    with rasterio.open(fcc) as src:
        mpx = src.width * src.height / 1e6
    command = [sys.executable, "-c", SERVER, "risk", "benchmark", "--fcc", str(fcc), "--out", str(out), "--json",
               "--scheduler", scheduler]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with PeakMemory([os.getpid() if cluster_here else process.pid]) as memory:
        stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        sys.exit(f"{label} failed ({process.returncode}):\n{stderr[-3000:]}")
    summary = json.loads(stdout)
    row = {"run": label, "scheduler": scheduler.split(":")[0], "mpx": round(mpx, 1), "seconds": round(seconds, 1),
           "s_per_mpx": round(seconds / mpx, 3), "peak_memory_mib_all_processes": round(memory.peak_bytes / 2**20),
           "calibration_nrt_m": summary["calibration"]["threshold_m"],
           "historical_nrt_m": summary["historical"]["threshold_m"]}
    print(f"  {label}: {row}", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", default="3x9", help="the ~250 Mpx mosaic, ROWSxCOLS copies (default 3x9: 252 Mpx)")
    parser.add_argument("--gpx", action="store_true", help="also the ~1 Gpx mosaic (10x11) on a LocalCluster")
    parser.add_argument("--out", type=Path, default=HERE / "risk_tiled.json")
    args = parser.parse_args()
    data = shared_data()
    if data is None or not (data / SOURCE).exists():
        sys.exit(f"{SOURCE} is not in ../shared/data (or $ICAM_SHARED_DATA)")
    source = data / SOURCE
    rows = []
    with tempfile.TemporaryDirectory(prefix="icam-risk-tiled-") as tmp:
        tmp = Path(tmp)
        rows.append(run("untiled", source, tmp / "untiled", "processes"))
        r, c = (int(v) for v in args.tiles.split("x"))
        rows.append(run(f"tiled {r}x{c}", mosaic(source, r, c, tmp / "tiled.vrt"), tmp / "tiled", "processes"))
        if args.gpx:
            from distributed import LocalCluster

            with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
                rows.append(run("tiled 10x11 on a 2-worker LocalCluster", mosaic(source, 10, 11, tmp / "gpx.vrt"),
                                tmp / "gpx", cluster.scheduler_address, cluster_here=True))
    base = rows[0]["s_per_mpx"]
    for row in rows:
        row["s_per_mpx_ratio_to_untiled"] = round(row["s_per_mpx"] / base, 2)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    args.out.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n", encoding="utf-8")
    print(f"\nMachine: {machine}\n")
    print("| run | scheduler | Mpx | seconds | s/Mpx | ratio to untiled | peak memory, all processes (MiB) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['run']} | {row['scheduler']} | {row['mpx']} | {row['seconds']} | {row['s_per_mpx']} | "
              f"{row['s_per_mpx_ratio_to_untiled']} | {row['peak_memory_mib_all_processes']} |")


if __name__ == "__main__":
    main()
