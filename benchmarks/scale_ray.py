"""`dataset build --engine ray`: 2 Ray workers against 1 on the same store, time per MB at two sizes, and the
driver's peak memory at both (issue 21's scaling figures), all in one run on one local Ray.

Generates two stores of realistic sessions (factory_throughput.py's generator: multi-line outputs, planted
secrets, 5% repeated sessions) of --size-mb and twice that, starts one local Ray with --cpus CPUs, builds
once to warm Ray's workers (imports), then on the bigger store alternates a 1-worker build (baseline) and a
2-worker build (subject) for --rounds rounds and reports the fastest of each and their ratio. Each round also
says where each build's CPU went (the driver, Ray's workers, Ray's daemons, the rest of the machine, read from
/proc) and the ratio no 2-worker build could beat with that much CPU on --cpus cores. Then the smaller store
with 2 workers, for time per MB at two sizes. Every build is checked to write the same content hash as the
local engine's. The driver's peak memory is measured in a fresh process per size (`bashgym dataset build`,
VmHWM), so one build's peak does not hide the other's.

    python benchmarks/scale_ray.py                    # ~3 minutes on 2 busy cores (3 and 6 MB)
    python benchmarks/scale_ray.py --size-mb 50 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from factory_throughput import generate, warm_imports  # noqa: E402

EVERY_TIER = ["gold", "silver", "bronze", "failed", "unscored"]


def build(home: Path, name: str, engine: str, workers: int) -> tuple[float, dict]:
    """One build of the store under `home` in this process; (seconds, record)."""
    os.environ["BASHGYM_HOME"] = str(home)
    from bashgym.factory.build import build_dataset
    from bashgym.factory.config import DatasetConfig
    from bashgym.store import Store

    cfg = DatasetConfig(name=name, decontaminate={"enabled": False}, write={"hf": False},
                        select={"tiers": EVERY_TIER})
    store = Store.open()
    try:
        start = time.perf_counter()
        record = build_dataset(store, cfg, workers=workers, engine=engine)
        return time.perf_counter() - start, record
    finally:
        store.close()


def cpu_seconds() -> dict[str, float]:
    """CPU seconds each running process has used so far, by pid (Linux /proc), with its command line."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            cmd = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        out[f"{stat.parent.name} {cmd}"] = (int(fields[11]) + int(fields[12])) / tick
    return out


def cpu_use(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Where the CPU went between two `cpu_seconds` readings: this process (the driver: merge, write, Ray
    Data's scheduling threads), Ray's workers (`ray::` processes: the shard tasks and their Ray overhead),
    Ray's own daemons (raylet, GCS, its agents), and everything else on the machine."""
    use = dict.fromkeys(("driver", "ray workers", "ray daemons", "other"), 0.0)
    me = f"{os.getpid()} "
    for key, seconds in after.items():
        spent = seconds - before.get(key, 0.0)
        cmd = key.split(" ", 1)[1]
        group = ("driver" if key.startswith(me) else "ray workers" if cmd.startswith("ray::")
                 else "ray daemons" if "/ray/" in cmd else "other")
        use[group] += spent
    return use


def driver_peak_mb(home: Path, engine: str, workers: int) -> float:
    """Peak RSS (MB) of a fresh `bashgym dataset build` process, children (Ray, workers) not counted: its own
    memory's high-water mark (VmHWM). Not ru_maxrss: Linux carries that across exec, so a process started by
    this one would report this one's peak when that is higher (it did: every earlier figure equalled it)."""
    code = ("import sys\nfrom bashgym.cli import main\nsys.argv = ['bashgym'] + sys.argv[1:]\n"
            "try:\n    main()\nfinally:\n    hwm = next(l for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
            "    print('PEAK', hwm.split()[1], file=sys.stderr)\n")
    out = subprocess.run([sys.executable, "-c", code, "dataset", "build", "--name", "peak", "--tier", "all",
                          "--engine", engine, "--workers", str(workers), "--json"],
                         env={**os.environ, "BASHGYM_HOME": str(home)}, capture_output=True, text=True, check=True)
    peak = next(line for line in out.stderr.splitlines() if line.startswith("PEAK"))
    return int(peak.split()[1]) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=float, default=3.0, help="MB of trace text of the smaller store (default 3)")
    ap.add_argument("--rounds", type=int, default=2, help="1-worker / 2-worker alternations (fastest kept)")
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray (default 2)")
    ap.add_argument("--no-memory", action="store_true", help="skip the driver peak-memory runs")
    args = ap.parse_args()
    temp = Path(tempfile.mkdtemp(prefix="bashgym-bench-ray-"))
    try:
        run(args, temp)
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def run(args: argparse.Namespace, temp: Path) -> None:
    import ray

    small, big = temp / "small", temp / "big"
    n_small, mb_small = generate(small, args.size_mb)
    n_big, mb_big = generate(big, args.size_mb * 2, seed=1)
    print(f"stores: {n_small} sessions / {mb_small:.1f} MB and {n_big} sessions / {mb_big:.1f} MB of trace text; "
          f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")
    print(f"imports (once, not timed): {warm_imports():.1f}s")
    from bashgym.scale.cluster import connect_ray

    start = time.perf_counter()
    info = connect_ray(num_cpus=args.cpus)
    print(f"local Ray with {info['cpus']} CPUs started in {time.perf_counter() - start:.1f}s")
    local_s, local = build(big, "local", "local", 1)
    warm_s, _ = build(small, "warm", "ray", 2)
    print(f"warm-up build on Ray (workers import bashgym): {warm_s:.1f}s; local engine, 1 process, big store: "
          f"{local_s:.2f}s ({local_s / mb_big:.3f} s/MB)")
    one_s = two_s = float("inf")
    for r in range(max(1, args.rounds)):  # alternate, so a slow spell of the machine hits both alike
        use = {}
        for workers in (1, 2):
            before = cpu_seconds()
            seconds, rec = build(big, f"w{workers}r{r}", "ray", workers)
            use[workers] = (seconds, cpu_use(before, cpu_seconds()))
            assert rec["content_hash"] == local["content_hash"], "engines disagree"
        s1, s2 = use[1][0], use[2][0]
        print(f"  round {r + 1}: 1 worker {s1:.2f}s, 2 workers {s2:.2f}s ({s1 / s2:.2f}x)")
        for workers, (seconds, spent) in use.items():
            print(f"    CPU, {workers} worker{'s' * (workers > 1)}: {sum(spent.values()):.1f} s in {seconds:.1f} s "
                  f"(2 cores: {2 * seconds:.1f} s) = " + ", ".join(f"{k} {v:.1f}" for k, v in spent.items()))
        # the 2-worker build cannot finish before its CPU, spread over both cores, is spent
        print(f"    with that CPU, 2 workers on {args.cpus} cores cannot beat "
              f"{s1 / (sum(use[2][1].values()) / args.cpus):.2f}x")
        one_s, two_s = min(one_s, s1), min(two_s, s2)
    print(f"baseline (Ray, 1 worker):  {one_s:7.2f}s  {mb_big / one_s:6.2f} MB/s")
    print(f"subject  (Ray, 2 workers): {two_s:7.2f}s  {mb_big / two_s:6.2f} MB/s")
    print(f"ratio (2 workers / 1 worker speed): {one_s / two_s:.2f}x  (target >= 1.8x on 2 idle cores)")
    half_s, _ = build(small, "small", "ray", 2)
    per_small, per_big = half_s / mb_small, two_s / mb_big
    print(f"time per MB, 2 workers: {per_small:.3f} s/MB at {mb_small:.1f} MB, {per_big:.3f} s/MB at "
          f"{mb_big:.1f} MB → x{per_big / per_small:.2f} at twice the size (1.00 = flat)")
    print(f"this process's peak RSS (both stores' builds, Ray's driver): "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    ray.shutdown()
    if not args.no_memory:
        peaks = {name: driver_peak_mb(home, "local", 2) for name, home in (("small", small), ("big", big))}
        print(f"driver peak memory, fresh `dataset build --workers 2` process: {peaks['small']:.0f} MB at "
              f"{mb_small:.1f} MB, {peaks['big']:.0f} MB at {mb_big:.1f} MB (x{peaks['big'] / peaks['small']:.2f} "
              "for twice the data; bounded = about 1)")
    print(json.dumps({"one_worker_s": round(one_s, 3), "two_workers_s": round(two_s, 3),
                      "ratio": round(one_s / two_s, 3), "s_per_mb": [round(per_small, 4), round(per_big, 4)]}))


if __name__ == "__main__":
    sys.exit(main())
