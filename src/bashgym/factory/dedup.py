"""Dedup: drop examples seen before — exactly (hash of the normalised text) or nearly (MinHash LSH).

Normalising lower-cases, collapses whitespace and masks hex ids and numbers, so two runs of the same
request that differ only in timestamps, pids or commit ids count as the same example. Near-duplicates are
found with MinHash LSH (factory/minhash.py) over word shingles; the first example seen is kept.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass
from typing import Any

from bashgym.factory.config import DedupConfig
from bashgym.factory.minhash import MinHashLSH, signature
from bashgym.factory.pipeline import AHEAD, DEFER, DROP, Example, FilterResult, Gate

# Each pattern also in ASCII mode, the same on ASCII text (str.isascii is O(1)) and 1.2-2.5x faster.
_HEX = re.compile(r"\b[0-9a-f]{7,64}\b", re.ASCII)
_NUM, _NUM_ASCII = re.compile(r"\d+"), re.compile(r"\d+", re.ASCII)
_WORD, _WORD_ASCII = re.compile(r"\w+"), re.compile(r"\w+", re.ASCII)


def normalise(text: str) -> str:
    """Text as dedup compares it: lowered, hex ids (7 to 64 hex digits, a whole word) masked, digit runs
    made 0, whitespace collapsed.

    >>> normalise("Run  ls\\n at 12:03, commit 3f2a9c1d")
    'run ls at 0:0, commit <hex>'
    """
    text = _hex_ids(text.lower())
    text = (_NUM_ASCII if text.isascii() else _NUM).sub("0", text)
    return " ".join(text.split())  # str.split's whitespace is re's \s (both str.isspace): 4x faster


def _hex_ids(text: str) -> str:
    """`text` with every whole word of 7 to 64 hex digits (unicode word boundaries) made `<hex>`.

    An ASCII-mode match is found 2.5x faster, and every unicode one is an ASCII one with the same span
    (a unicode word boundary is an ASCII one too); an ASCII match that touches a non-ASCII letter or digit
    (`é1234567`) is not a unicode match and stays.
    """
    if text.isascii():
        return _HEX.sub("<hex>", text)

    def mask(m: re.Match[str]) -> str:
        start, end = m.span()
        before = text[start - 1] if start else ""
        after = text[end] if end < len(text) else ""
        return m[0] if before.isalnum() or after.isalnum() else "<hex>"

    return _HEX.sub(mask, text)


def exact_key(text: str, *, normalised: bool = False) -> str:
    norm = text if normalised else normalise(text)
    return hashlib.blake2b(norm.encode(), digest_size=16).hexdigest()


def _words(text: str) -> list[str]:
    return (_WORD_ASCII if text.isascii() else _WORD).findall(text)


def shingles(text: str, n: int, *, normalised: bool = False) -> set[bytes]:
    words = _words(text if normalised else normalise(text))
    if len(words) < n:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[i : i + n]).encode() for i in range(len(words) - n + 1)}


def shingle_hashes(text: str, n: int, *, normalised: bool = False) -> set[int]:
    """crc32 of each of `shingles(text, n)`, computed once per distinct shingle: the shingles are found
    as distinct n-tuples of words (a set of tuples, built in C), and only those are joined and hashed."""
    words = _words(text if normalised else normalise(text))
    if len(words) < n:
        return {zlib.crc32(" ".join(words).encode())} if words else set()
    distinct = set(zip(*(words[i:] for i in range(n)), strict=False))  # the i-th list is i words shorter
    return set(map(zlib.crc32, map(str.encode, map(" ".join, distinct))))


def minhash(text: str, num_perm: int = 128, n: int = 5, *, normalised: bool = False):  # noqa: ANN201
    """The MinHash signature (factory/minhash.py) of a text's word shingles, each shingle hashed by crc32
    (stable across processes, 5x faster than sha1)."""
    return signature(shingle_hashes(text, n, normalised=normalised), num_perm)


@dataclass(slots=True)
class ShardMemo:
    """Dedup's scratch over one shard: the exact keys met, and an LSH of the examples it found no near
    duplicate for (as `check` inserts only those it keeps)."""

    keys: set[str]
    lsh: MinHashLSH | None


class Dedup(Gate):
    """Keep the first of each group of (near-)identical examples; drops say `exact_duplicate` or
    `near_duplicate`; `pairs` lists (dropped id, kept id) for the report. A `Gate`: the keys (normalising,
    MinHash) are worked out wherever the shard runs, the decision in order in one place, so dedup is global
    and exact however many workers there are."""

    name = "dedup"

    def __init__(self, cfg: DedupConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.seen: dict[str, str] = {}
        self.lsh = None
        if cfg.near:
            self.lsh = MinHashLSH(threshold=cfg.threshold, num_perm=cfg.num_perm)
        self.pairs: list[tuple[str, str]] = []

    def new_memo(self) -> ShardMemo:
        return ShardMemo(set(), MinHashLSH(threshold=self.cfg.threshold, num_perm=self.cfg.num_perm)
                         if self.lsh is not None else None)

    def prepare(self, example: Example, memo: ShardMemo) -> tuple[tuple[str, Any], str]:
        """(exact key, MinHash) of the example's text, and what the shard can tell before `check`: DROP when
        `memo` (one shard's, or consecutive shards' in one process) already holds the exact key (`check` drops
        it as an exact duplicate: no MinHash needed), DEFER when the shard's own LSH finds a near one (likely
        dropped, unless that one was dropped itself), else AHEAD."""
        norm = normalise(example.text())
        key = exact_key(norm, normalised=True)
        if self.cfg.exact:
            if key in memo.keys:
                return (key, None), DROP
            memo.keys.add(key)
        if self.lsh is None:
            return (key, None), AHEAD
        sig = minhash(norm, self.cfg.num_perm, self.cfg.shingle, normalised=True)
        if memo.lsh is None:
            return (key, sig), AHEAD
        if memo.lsh.query(sig):
            return (key, sig), DEFER
        if example.id not in memo.lsh:
            memo.lsh.insert(example.id, sig)
        return (key, sig), AHEAD

    def check(self, example_id: str, keys: tuple[str, Any]) -> FilterResult:
        """Keep or drop an example by its keys (from `prepare`), remembering it when kept."""
        key, sig = keys
        if self.cfg.exact:
            if key in self.seen:
                self.pairs.append((example_id, self.seen[key]))
                return False, "exact_duplicate"
            self.seen[key] = example_id
        if self.lsh is not None:
            hits = self.lsh.query(sig)
            if hits:
                self.pairs.append((example_id, hits[0]))
                return False, "near_duplicate"
            if example_id not in self.lsh:
                self.lsh.insert(example_id, sig)
        return True
