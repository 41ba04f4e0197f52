"""Eval throughput: episodes/s of `bashgym eval`'s agent loop on the builtin suite, 1 vs N workers.

    python benchmarks/eval_throughput.py [--workers 4] [--limit 40]

An "oracle" model behind a scripted OpenAI-compatible server on 127.0.0.1 answers each task with its
reference solution (one bash call), then stops — so every episode should pass, which also checks the
agent loop end to end against the real suite.
Baseline: the same episodes driven directly through the env (reset, step(solution), submit), one at a time,
no model and no HTTP. Subjects: the eval runner with 1 worker and with N workers. Prints episodes/s and
the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bashgym.eval.clients import OpenAIClient  # noqa: E402
from bashgym.eval.runner import default_env_factory, run_eval  # noqa: E402
from bashgym.gym.task import load_suite  # noqa: E402
from bashgym.store import Store  # noqa: E402
from harness.openai_server import ScriptedOpenAIServer, assistant_turns, bash_call, first_user_text, say  # noqa: E402


def solution_command(task) -> str:
    script = task.solution.read_text(encoding="utf-8") if task.solution else "true"
    return f"bash <<'BASHGYM_SOLUTION'\n{script}\nBASHGYM_SOLUTION"


def baseline(tasks) -> tuple[float, int]:
    start, passed = time.perf_counter(), 0
    for task in tasks:
        env = default_env_factory(task)
        try:
            env.reset(seed=0)
            env.step(solution_command(task))
            _obs, reward, *_rest = env.step("submit")
            passed += reward == 1.0
        except Exception as exc:  # noqa: BLE001 - a broken task is reported, the benchmark goes on
            print(f"          {task.id}: {type(exc).__name__}: {exc}")
        finally:
            env.close()
    return time.perf_counter() - start, passed


def subject(tasks, workers: int, home: Path) -> tuple[float, dict]:
    by_instruction = {t.instruction: solution_command(t) for t in tasks}

    def oracle(body: dict) -> dict:
        if assistant_turns(body):
            return say("Done.")
        return bash_call(by_instruction.get(first_user_text(body), "true"))

    with ScriptedOpenAIServer(oracle) as server, Store(home / f"w{workers}.db") as store:
        start = time.perf_counter()
        summary = run_eval(store, OpenAIClient(server.url, "oracle"), tasks, eval_id=f"bench-{workers}",
                           model="oracle", suite="builtin", k=1, workers=workers)
        return time.perf_counter() - start, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--limit", type=int, default=40)
    args = parser.parse_args()
    tasks = load_suite("builtin")[: args.limit]
    n = len(tasks)
    with tempfile.TemporaryDirectory() as tmp:
        base_s, base_passed = baseline(tasks)
        print(f"baseline  env only, sequential : {n / base_s:6.2f} episodes/s ({base_passed}/{n} passed)")
        for workers in (1, args.workers):
            took, summary = subject(tasks, workers, Path(tmp))
            o = summary["overall"]
            print(f"subject   eval, {workers} worker(s)     : {n / took:6.2f} episodes/s "
                  f"({o['passed']}/{o['samples']} passed, {o['errors']} no score)  ratio {base_s / took:.2f}x")
            failed = [t["task_id"] for t in summary["tasks"] if t["c"] == 0]
            if failed:
                print(f"          not passed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
