"""`dataset build --engine ray` at several store sizes: time per MB and the driver's peak memory, each size
built by a fresh `bashgym dataset build` process (issue 21: time per MB flat from 100 MB to 1 GB; the driver's
peak bounded — a 1 GB build once peaked at 6.6 GB in the main process).

    python benchmarks/scale_flat.py --sizes 2,100,1000          # ~15 minutes on 2 cores, ~2.5 GB of disk

Stores come from factory_throughput.py's generator (multi-line outputs, planted secrets, 5% repeated
sessions). Every size runs the same command (`--engine ray --workers 2 --tier all`, no hf/ copy, as
scale_ray.py), in the same run. Wall time includes the process's start, its local Ray's and the Ray workers'
imports: about 20 s here, the same at every size, which would flatter the big sizes. So the first size is a
probe of that fixed cost (2 MB by default), and each bigger size's time per MB is also given net of it:
(seconds - probe's seconds) / (MB - probe's MB). The ratio of the biggest size's net time per MB to the
second size's is the figure (1.00 = flat).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from factory_throughput import generate  # noqa: E402

PEAK = ("import sys\nfrom bashgym.cli import main\nsys.argv = ['bashgym'] + sys.argv[1:]\n"
        "try:\n    main()\nfinally:\n    hwm = next(l for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
        "    print('PEAK', hwm.split()[1], file=sys.stderr)\n")


def timed_build(home: Path, engine: str, workers: int) -> tuple[float, float, dict]:
    """(wall seconds, driver peak MB, build record) of a fresh `bashgym dataset build` process. The peak is
    the process's own high-water mark (VmHWM), not its Ray workers'."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", PEAK, "dataset", "build", "--name", "flat", "--tier", "all",
                          "--engine", engine, "--workers", str(workers), "--json"],
                         env={**os.environ, "BASHGYM_HOME": str(home)}, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if out.returncode:
        sys.exit(f"build failed (exit {out.returncode}):\n{out.stderr[-3000:]}")
    peak = next(line for line in out.stderr.splitlines() if line.startswith("PEAK"))
    return wall, int(peak.split()[1]) / 1024, json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="2,100,1000",
                    help="MB of trace text per store, comma-separated; the first is the fixed-cost probe")
    ap.add_argument("--engine", default="ray", choices=["ray", "local"])
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    sizes = [float(s) for s in args.sizes.split(",")]
    temp = Path(tempfile.mkdtemp(prefix="bashgym-bench-flat-"))
    results = []
    try:
        for i, size in enumerate(sizes):
            home = temp / f"s{i}"
            start = time.perf_counter()
            n, mb = generate(home, size, seed=i)
            gen_s = time.perf_counter() - start
            wall, peak, record = timed_build(home, args.engine, args.workers)
            probe = results[0] if results else None
            net = (wall - probe["seconds"]) / (mb - probe["mb"]) if probe else None
            results.append({"mb": round(mb, 1), "sessions": n, "seconds": round(wall, 2),
                            "s_per_mb": round(wall / mb, 4), "net_s_per_mb": net and round(net, 4),
                            "driver_peak_mb": round(peak), "rows": sum(record["counts"]["rows"].values())})
            print(f"{mb:7.1f} MB ({n} sessions, generated in {gen_s:.0f} s): build {wall:7.1f} s = "
                  f"{wall / mb:.3f} s/MB" + (f" ({net:.3f} s/MB net of the probe)" if probe else " (the probe)")
                  + f", {results[-1]['rows']} rows; driver peak {peak:.0f} MB; load {os.getloadavg()[0]:.1f}",
                  flush=True)
            shutil.rmtree(home, ignore_errors=True)  # the next size's disk
        if len(results) >= 3:
            first, last = results[1], results[-1]
            print(f"net time per MB at {last['mb']} MB / at {first['mb']} MB: "
                  f"x{last['net_s_per_mb'] / first['net_s_per_mb']:.2f} (1.00 = flat); driver peak "
                  f"x{last['driver_peak_mb'] / first['driver_peak_mb']:.2f} for x{last['mb'] / first['mb']:.0f} the data")
        print(json.dumps({"engine": args.engine, "workers": args.workers, "results": results}))
    finally:
        shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    main()
