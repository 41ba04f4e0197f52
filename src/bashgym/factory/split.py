"""Split rows into train / validation / test by session, seeded: a session is never on two sides.

Rows name the root sessions they came from (`_groups`; a DPO pair names two). Sessions that share a row
are joined (union-find), and whole groups are assigned, so no conversation — nor its subagents, nor the
other half of a preference pair — leaks across the split.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

from bashgym.factory.config import SplitConfig

SPLITS = ("train", "validation", "test")


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def assign_groups(groups: Iterable[str], cfg: SplitConfig) -> dict[str, str]:
    """{group: split}: groups shuffled with the seed, then cut by the fractions (rounded, so a tiny set
    keeps at least one group in train)."""
    ordered = sorted(set(groups))
    random.Random(cfg.seed).shuffle(ordered)
    n = len(ordered)
    n_val = round(n * cfg.validation)
    n_test = round(n * cfg.test)
    if n_val + n_test >= n and n > 0:
        n_test = max(0, min(n_test, n - 1 - n_val))
        n_val = max(0, min(n_val, n - 1 - n_test))
    out: dict[str, str] = {}
    for i, g in enumerate(ordered):
        out[g] = "validation" if i < n_val else "test" if i < n_val + n_test else "train"
    return out


def split_rows(rows: list[dict[str, Any]], cfg: SplitConfig) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    for row, where in zip(rows, assign_rows([row_groups(r) for r in rows], cfg), strict=True):
        out[where].append(row)
    return out


def row_groups(row: dict[str, Any]) -> list[str]:
    """The root sessions a row came from (what the split keeps together)."""
    return row.get("_groups") or [row.get("session_id") or ""]


def assign_rows(groups: list[list[str]], cfg: SplitConfig) -> list[str]:
    """The split of each row, from each row's `row_groups` alone: a build streams its rows to disk and keeps
    only these."""
    uf = _UnionFind()
    for row in groups:
        for g in row[1:]:
            uf.union(row[0], g)
        uf.find(row[0])
    where = assign_groups({uf.find(g) for g in uf.parent}, cfg)
    return [where[uf.find(row[0])] for row in groups]
