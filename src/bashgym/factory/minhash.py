"""MinHash signatures and an LSH index for near-dedup, with numpy alone.

The same numbers as datasketch 2's `MinHash` (its default "affine32" scheme, seed 1) and the same bands as
its `MinHashLSH` (the (b, r) that minimise equally weighted false-positive and false-negative areas), so a
dataset built before keeps its rows. Owning them pins what dedup computes: datasketch's default scheme
changed in 2.0 (an older one gave other signatures, so other rows), and importing it costs 0.6 s of CPU
(scipy, for two integrals) in every process a build starts. tests/test_factory_speed.py checks both
against datasketch.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import numpy as np

MAX_HASH = np.uint32(0xFFFFFFFF)
_CHUNK = 1024  # hashes per block of the (hashes x permutations) product: bounds its memory on long texts


@lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int = 1) -> tuple[Any, Any]:
    """(a, b) of the affine permutations h -> a*h + b mod 2^32, `a` odd (a bijection), drawn as datasketch
    draws them."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def _fmix32(hv: Any) -> Any:
    """MurmurHash3's 32-bit finalizer (a bijection), mixing each hash once before the permutations."""
    hv = hv ^ (hv >> np.uint32(16))
    hv = hv * np.uint32(0x85EBCA6B)
    hv = hv ^ (hv >> np.uint32(13))
    hv = hv * np.uint32(0xC2B2AE35)
    return hv ^ (hv >> np.uint32(16))


def signature(hashes: Iterable[int], num_perm: int = 128) -> Any:
    """The MinHash signature (uint32 array of `num_perm`) of a set given by 32-bit hashes of its members
    (e.g. crc32 of each shingle); all MAX_HASH for an empty set."""
    hv = np.fromiter(hashes, dtype=np.uint32)
    out = np.full(num_perm, MAX_HASH, dtype=np.uint32)
    if not hv.size:
        return out
    a, b = permutations(num_perm)
    mixed = _fmix32(hv)
    buf = np.empty((min(_CHUNK, len(mixed)), num_perm), dtype=np.uint32)  # reused: 3x faster than new arrays
    for start in range(0, len(mixed), _CHUNK):
        block = buf[:len(mixed) - start] if start + _CHUNK > len(mixed) else buf
        np.multiply(mixed[start:start + _CHUNK, None], a, out=block)  # uint32 arithmetic: wraps mod 2^32
        np.add(block, b, out=block)
        np.minimum(out, block.min(axis=0), out=out)
    return out


def _area(r: int, b: int, lo: float, hi: float, nodes: Any, weights: Any, *, positive: bool) -> float:
    """Integral over [lo, hi] of P(candidate | similarity s) = 1 - (1 - s^r)^b (or 1 minus it), by
    Gauss-Legendre quadrature: exact for these polynomials of degree r*b <= num_perm, up to rounding."""
    s = (hi - lo) / 2 * nodes + (hi + lo) / 2
    p = 1 - (1 - s ** float(r)) ** float(b)
    return float((hi - lo) / 2 * np.dot(weights, p if positive else 1 - p))


@lru_cache(maxsize=32)
def optimal_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows per band) that minimise the false-positive area below `threshold` plus the
    false-negative area above it, weighted equally (datasketch's `_optimal_param`)."""
    nodes, weights = np.polynomial.legendre.leggauss(num_perm // 2 + 2)
    best, opt = float("inf"), (0, 0)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            error = (_area(r, b, 0.0, threshold, nodes, weights, positive=True) * 0.5
                     + _area(r, b, threshold, 1.0, nodes, weights, positive=False) * 0.5)
            if error < best:
                best, opt = error, (b, r)
    return opt


class MinHashLSH:
    """Keys of signatures that agree with a query's on all rows of at least one band (candidates for
    Jaccard similarity >= threshold), in the order they were inserted."""

    def __init__(self, threshold: float = 0.9, num_perm: int = 128) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0.0, 1.0], got {threshold}")
        self.num_perm = num_perm
        self.b, self.r = optimal_bands(float(threshold), num_perm)
        if self.b < 2:
            raise ValueError(f"num_perm {num_perm} gives too few bands (b < 2) for threshold {threshold}")
        self.tables: list[dict[bytes, list[str]]] = [{} for _ in range(self.b)]
        self.keys: set[str] = set()

    def _bands(self, sig: Any) -> list[bytes]:
        if len(sig) != self.num_perm:
            raise ValueError(f"expected a signature of {self.num_perm} values, got {len(sig)}")
        raw, width = sig.tobytes(), self.r * sig.itemsize
        return [raw[i * width:(i + 1) * width] for i in range(self.b)]

    def insert(self, key: str, sig: Any) -> None:
        if key in self.keys:
            raise ValueError(f"key {key!r} is in the index already")
        self.keys.add(key)
        for table, band in zip(self.tables, self._bands(sig), strict=True):
            table.setdefault(band, []).append(key)

    def query(self, sig: Any) -> list[str]:
        found: dict[str, None] = {}
        for table, band in zip(self.tables, self._bands(sig), strict=True):
            found.update(dict.fromkeys(table.get(band, ())))
        return list(found)

    def __contains__(self, key: str) -> bool:
        return key in self.keys
