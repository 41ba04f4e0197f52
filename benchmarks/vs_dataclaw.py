"""Sessions → redacted training JSONL: bashgym (import + judge + `dataset build`) against DataClaw.

    python benchmarks/vs_dataclaw.py [--size-mb 30] [--rounds 3] [--workers 1,2]

DataClaw (PyPI `dataclaw`, pinned in tests/harness/dataclaw-requirements.txt) parses Claude Code sessions and
redacts them into one JSONL file: `dataclaw export --no-push --all-projects --source claude`. It runs in a venv
of its own, built once per requirements file under the tools dir (.tools/dataclaw, git-ignored;
$BASHGYM_TEST_TOOLS moves it) by the test harness's pip_tools, with HOME pointed at a temporary home whose
~/.claude/projects is the corpus. bashgym does more with the same sessions: `bashgym import claude`, `bashgym judge` and `bashgym dataset
build` (select by tier, segment, redact, dedup, decontaminate, shape, write JSONL + Parquet + HF), in a fresh
home each round, each a CLI process as a user runs it.

The corpus is generated (benchmarks/corpus.py: copies of real Claude Code transcripts, ~116 KB a session; the
issue's figure was 2,000 sessions, 235 MB: `--size-mb 235`). For each worker count (DataClaw's
DATACLAW_WORKERS, bashgym's --workers of import, judge and build), each round runs DataClaw, bashgym, DataClaw, and
compares bashgym with the mean of the two DataClaw runs around it (this machine's speed drifts); the median
round is reported, in wall time and in CPU time of the processes (the machine may be shared: wall time swings
with other work). Target: bashgym's speed >= 1.0x DataClaw's (ratio = DataClaw seconds / bashgym seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import bashgym

sys.path.insert(0, str(Path(__file__).parent))

from corpus import make_corpus  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "tests" / "harness" / "dataclaw-requirements.txt"
BASHGYM = [sys.executable, "-c", "from bashgym.cli import main; main()"]


def dataclaw_venv() -> Path:
    """The venv holding the pinned DataClaw, built on first use (tests/harness/pip_tools.py, as for the
    agents the tests drive)."""
    saved = sys.path[:]
    # tests/harness is a namespace package, which a module of the same name anywhere on the path (this
    # directory's harness.py) would hide: import it with tests/ in place of this directory.
    sys.path[:] = [str(ROOT / "tests")] + [p for p in saved if Path(p or ".").resolve() != Path(__file__).parent]
    try:
        from harness import pip_tools
        from harness.npm_tools import TOOLS_DIR
    finally:
        sys.path[:] = saved
    venv = TOOLS_DIR / "dataclaw"
    pip_tools.install_venv(venv, REQUIREMENTS, "dataclaw", installer="uv")
    return venv


@dataclass
class Timing:
    wall: float
    cpu: float  # user + system seconds of the processes run (and their children)


def run_timed(cmds: list[tuple[list[str], dict[str, str], Path]]) -> tuple[Timing, list[str]]:
    """Run the commands one after the other; their total wall and CPU time, and each one's stdout."""
    outputs = []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    for cmd, env, cwd in cmds:
        proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"{' '.join(cmd[-6:])} failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n"
                     f"{proc.stderr[-3000:]}")
        outputs.append(proc.stdout)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return Timing(wall, cpu), outputs


def run_dataclaw(venv: Path, home: Path, out: Path, workers: int) -> tuple[Timing, str]:
    """`dataclaw export` of every Claude Code project under home/.claude/projects into `out`."""
    shutil.rmtree(home / ".dataclaw", ignore_errors=True)  # its config and state: each run starts fresh
    out.unlink(missing_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8",
           "DATACLAW_WORKERS": str(workers), "HF_HUB_OFFLINE": "1"}
    cmd = [str(venv / "bin" / "dataclaw"), "export", "--no-push", "--all-projects", "--source", "claude",
           "--output", str(out)]
    timing, (stdout,) = run_timed([(cmd, env, home)])
    exported = next((line.strip() for line in stdout.splitlines() if line.startswith("Exported ")), "?")
    return timing, exported


def run_bashgym(corpus: Path, home: Path, workers: int) -> tuple[Timing, dict[str, dict]]:
    """import + judge + dataset build in a fresh bashgym home; the three commands' JSON outputs."""
    shutil.rmtree(home, ignore_errors=True)
    env = {**os.environ, "BASHGYM_HOME": str(home)}
    env.pop("BASHGYM_STORE_URL", None)
    w = ["--workers", str(workers)] if workers > 1 else []
    cmds = [[*BASHGYM, "import", "claude", str(corpus), "--json", *w],
            [*BASHGYM, "judge", "--json", *w],
            [*BASHGYM, "dataset", "build", "--json", *w]]
    timing, outputs = run_timed([(cmd, env, home.parent) for cmd in cmds])
    return timing, dict(zip(("import", "judge", "build"), (json.loads(o) for o in outputs), strict=True))


def bashgym_phases(corpus: Path, home: Path, workers: int) -> dict[str, float]:
    """Wall seconds of each bashgym command alone (one more run, for the breakdown)."""
    shutil.rmtree(home, ignore_errors=True)
    env = {**os.environ, "BASHGYM_HOME": str(home)}
    env.pop("BASHGYM_STORE_URL", None)
    w = ["--workers", str(workers)] if workers > 1 else []
    phases = {"import": [*BASHGYM, "import", "claude", str(corpus), "--json", *w],
              "judge": [*BASHGYM, "judge", "--json", *w],
              "build": [*BASHGYM, "dataset", "build", "--json", *w]}
    return {name: run_timed([(cmd, env, home.parent)])[0].wall for name, cmd in phases.items()}


def compile_bytecode(*trees: Path) -> float:
    """Byte-compile both sides' code before timing, as a plain `pip install` leaves it: where
    PYTHONDONTWRITEBYTECODE is set and the venvs were installed without compiling (uv's default, bashgym's
    test.sh), every process would otherwise compile all it imports, each time. Returns the seconds it took."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", *map(str, trees)], capture_output=True)
    return time.perf_counter() - start


def pip_version(venv: Path) -> str:
    found = sorted(venv.glob("lib/python*/site-packages/dataclaw-*.dist-info"))
    return found[-1].name.removeprefix("dataclaw-").removesuffix(".dist-info") if found else "?"


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=float, default=30, help="corpus size (the issue's figure: 235)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per worker count: DataClaw, bashgym, DataClaw")
    parser.add_argument("--workers", default="1,2", help="worker counts to compare, comma-separated")
    parser.add_argument("--phases", action="store_true", help="also time import, judge and build one by one")
    args = parser.parse_args()
    venv = dataclaw_venv()
    version = pip_version(venv)
    dataclaw_site = next(venv.glob("lib/python*/site-packages"))
    compiled = compile_bytecode(dataclaw_site, Path(sysconfig.get_paths()["purelib"]), Path(bashgym.__file__).parent)
    print(f"bytecode  both sides compiled ({compiled:.0f} s, not timed)")
    worker_counts = [int(w) for w in args.workers.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        corpus = home / ".claude" / "projects"
        n_files, n_bytes = make_corpus(corpus, args.size_mb)
        mb = n_bytes / 1e6
        print(f"corpus    {n_files} Claude Code sessions, {mb:.0f} MB; DataClaw {version} ({venv}); "
              f"{args.rounds} rounds per worker count; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
        summary = []
        for workers in worker_counts:
            ratios, cpu_ratios, dc_walls, bg_walls = [], [], [], []
            for r in range(args.rounds):
                before, exported = run_dataclaw(venv, home, Path(tmp) / "dataclaw.jsonl", workers)
                subject, out = run_bashgym(corpus, Path(tmp) / "bashgym", workers)
                after, _ = run_dataclaw(venv, home, Path(tmp) / "dataclaw.jsonl", workers)
                base = Timing((before.wall + after.wall) / 2, (before.cpu + after.cpu) / 2)
                ratios.append(base.wall / subject.wall)
                cpu_ratios.append(base.cpu / subject.cpu)
                dc_walls.append(base.wall)
                bg_walls.append(subject.wall)
                build = out["build"]["counts"]
                print(f"workers {workers} round {r + 1}   DataClaw {base.wall:6.1f} s ({base.cpu:.1f} s CPU; "
                      f"{exported})   bashgym {subject.wall:6.1f} s ({subject.cpu:.1f} s CPU; "
                      f"{out['import']['sessions']} sessions imported, {out['judge']['sessions']} judged, "
                      f"{build['examples']} examples written)   ratio {ratios[-1]:.2f}x wall, "
                      f"{cpu_ratios[-1]:.2f}x CPU   load {os.getloadavg()[0]:.1f}")
            if args.phases:
                phases = bashgym_phases(corpus, Path(tmp) / "bashgym", workers)
                print(f"workers {workers} phases  " + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items()))
            summary.append(f"workers {workers}: DataClaw {median(dc_walls):.1f} s, bashgym {median(bg_walls):.1f} s "
                           f"(import + judge + build); ratio {median(ratios):.2f}x wall (min {min(ratios):.2f}, "
                           f"max {max(ratios):.2f}), {median(cpu_ratios):.2f}x CPU; median of {args.rounds}")
        for line in summary:
            print(line)
        print("target    bashgym >= 1.0x DataClaw (DataClaw seconds / bashgym seconds)")


if __name__ == "__main__":
    main()
