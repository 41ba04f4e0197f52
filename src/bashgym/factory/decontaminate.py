"""Decontaminate: drop examples that overlap the gym/eval task suite, so evals stay honest.

Each task's instruction, and separately its reference solution when it has one, is cut into word
n-grams; an example is dropped when it contains at least `threshold` of either's n-grams. The suite comes from
`bashgym.gym.task.load_suite` when the gym is installed, else straight from the task.yaml files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from bashgym.errors import NotFoundError
from bashgym.factory.config import DecontaminateConfig
from bashgym.factory.pipeline import Example, Filter, FilterResult

_WORD, _WORD_ASCII = re.compile(r"\w+"), re.compile(r"\w+", re.ASCII)  # the same on ASCII text, faster
BUILTIN_DIR = Path(__file__).resolve().parent.parent / "gym" / "tasks" / "builtin"


@dataclass(slots=True)
class TaskText:
    id: str
    text: str


def words(text: str) -> list[str]:
    text = text.lower()
    return (_WORD_ASCII if text.isascii() else _WORD).findall(text)


def ngrams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    if len(tokens) < n:
        return {tuple(tokens)} if tokens else set()
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def load_task_texts(suite: str = "builtin", *, solutions: bool = True) -> list[TaskText]:
    """Instruction (+ solution, unless `solutions` is off) text of every task in a suite (name or directory)."""
    try:
        from bashgym.gym.task import load_suite

        tasks = load_suite(suite)
        out = []
        for t in tasks:
            # Instruction and solution are matched on their own: a rollout repeats the instruction word
            # for word but not the solution, and a copied solution need not quote the instruction.
            out.append(TaskText(t.id, t.instruction))
            solution = Path(t.path) / "solution.sh"
            if solutions and solution.exists():
                out.append(TaskText(t.id, solution.read_text()))
        return out
    except ImportError:
        pass
    except NotFoundError:
        if suite != "builtin":
            raise
        return []  # the builtin suite has no tasks yet: nothing to decontaminate against
    root = BUILTIN_DIR if suite == "builtin" else Path(suite)
    out = []
    for task_yaml in sorted(root.glob("*/task.yaml")):
        data = yaml.safe_load(task_yaml.read_text()) or {}
        task_id = str(data.get("id") or task_yaml.parent.name)
        out.append(TaskText(task_id, str(data.get("instruction") or "")))
        solution = task_yaml.parent / "solution.sh"
        if solutions and solution.exists():
            out.append(TaskText(task_id, solution.read_text()))
    return out


class Decontaminate(Filter):
    """Drop examples sharing too many n-grams with a task; the reason names the task."""

    name = "decontaminate"

    def __init__(self, cfg: DecontaminateConfig, tasks: list[TaskText] | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.tasks = load_task_texts(cfg.suite, solutions=cfg.solutions) if tasks is None else tasks
        self.task_grams: list[tuple[str, set[tuple[str, ...]]]] = []
        for t in self.tasks:
            tokens = words(t.text)
            if tokens:  # a task shorter than n words is matched whole
                self.task_grams.append((t.id, ngrams(tokens, min(cfg.ngram, len(tokens)))))
        self.sizes = sorted({len(next(iter(g))) for _, g in self.task_grams})
        self.index: dict[tuple[str, ...], list[int]] = {}
        for i, (_, grams) in enumerate(self.task_grams):
            for g in grams:
                self.index.setdefault(g, []).append(i)
        self.vocab = frozenset(w for g in self.index for w in g)  # every word of every task n-gram
        self.stats.counters["tasks"] = len(self.task_grams)

    def filter(self, example: Example) -> FilterResult:
        if not self.index:
            return True
        hits: dict[int, int] = {}
        for g in self._candidate_grams(words(example.text())):
            for i in self.index.get(g, ()):
                hits[i] = hits.get(i, 0) + 1
        for i, n in hits.items():
            tid, grams = self.task_grams[i]
            if n / len(grams) >= self.cfg.threshold:
                return False, f"overlaps_task:{tid}"
        return True

    def _candidate_grams(self, tokens: list[str]) -> set[tuple[str, ...]]:
        """The example's distinct n-grams (of each task n-gram size) that could be a task's: only runs of
        words that occur in some task n-gram can be, and transcripts are mostly other words, so this builds
        a small fraction of `ngrams(tokens, size)` and finds the same matches."""
        known = bytes(map(self.vocab.__contains__, tokens))  # 1 per word in the vocabulary, else 0 (in C)
        out: set[tuple[str, ...]] = set()
        for size in self.sizes:
            if len(tokens) < size:  # a whole example shorter than n is one n-gram, as in `ngrams`
                if tokens and all(known):
                    out.add(tuple(tokens))
                continue
            for run in re.finditer(b"\x01{%d,}" % size, known):  # each window of `size` known words
                start, end = run.span()
                out.update(tuple(tokens[i - size : i]) for i in range(start + size, end + 1))
        return out
