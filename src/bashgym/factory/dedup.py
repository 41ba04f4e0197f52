"""Dedup: drop examples seen before — exactly (hash of the normalised text) or nearly (MinHash LSH).

Normalising lower-cases, collapses whitespace and masks hex ids and numbers, so two runs of the same
request that differ only in timestamps, pids or commit ids count as the same example. Near-duplicates are
found with MinHash LSH (factory/minhash.py) over word shingles; the first example seen is kept.

Both keys are worked out on the UTF-8 bytes of the text: bytes.translate and bytes.split in place of regexes
(1.6-1.7x faster over a build's texts). In bytes every non-ASCII character is a word boundary, so a hex id
beside a non-ASCII letter (é, 日) is looked at again, and words holding one are split by the unicode regex; a
text with a non-ASCII digit (٣, a digit to the unicode regex) has its digits and spaces found by the unicode
regexes.
tests/test_factory_speed.py checks every path against the regex definition.
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

_HEX_RUN = re.compile(rb"hhhhhhh+")  # a literal first: found by a fast search, not tried at every byte
_ZEROS = re.compile(rb"00+")
_NUM = re.compile(r"\d+")
_WORD = re.compile(r"\w+")

_ASCII = bytes(range(128))
_HEX_AS_H = bytes(104 if 48 <= i <= 57 or 97 <= i <= 102 else i for i in range(256))
_WORD_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
# Digits made "0" (a run of them is then squeezed to one) and the ASCII whitespace bytes.split() leaves alone
# (\x1c-\x1f, which str.split() splits on) made spaces.
_DIGITS_AND_SPACES = bytes(48 if 48 <= i <= 57 else 32 if 0x1C <= i <= 0x1F else i for i in range(256))
# For words: every byte that is not an ASCII word character made a space (non-ASCII bytes kept, or not).
_NOT_WORD = bytes(i if i in _WORD_BYTES else 32 for i in range(256))
_NOT_ASCII_WORD = bytes(i if i in _WORD_BYTES or i >= 128 else 32 for i in range(256))


def normalise(text: str) -> str:
    """Text as dedup compares it: lowered, hex ids (7 to 64 hex digits, a whole word) masked, digit runs
    made 0, whitespace collapsed.

    >>> normalise("Run  ls\\n at 12:03, commit 3f2a9c1d")
    'run ls at 0:0, commit <hex>'
    """
    return _normalised(text)[0].decode()


def _normalised(text: str) -> tuple[bytes, bool]:
    """UTF-8 of `normalise(text)`, and whether it holds non-ASCII letters or digits (its words then need the
    unicode regex, `_words`)."""
    low = text.lower()
    data = low.encode()
    foreign_words = False
    if not low.isascii():
        foreign = set(data.translate(None, _ASCII).decode())
        if any(map(str.isdecimal, foreign)):  # ٣: a digit to \d, not to bytes
            masked = _mask_hex_ids(data, True).decode()
            return " ".join(_NUM.sub("0", masked).split()).encode(), True  # str.split's spaces are \s
        spaces = [c for c in foreign if c.isspace()]
        if spaces:  # \xa0, \u2028 …: spaces to str.split(), not to bytes.split()
            for c in spaces:
                low = low.replace(c, " ")
            data = low.encode()
        foreign_words = any(map(str.isalnum, foreign))
    data = _mask_hex_ids(data, foreign_words)
    data = _ZEROS.sub(b"0", data.translate(_DIGITS_AND_SPACES))  # each run of digits one 0
    return b" ".join(data.split()), foreign_words


def _mask_hex_ids(data: bytes, foreign_words: bool) -> bytes:
    """`data` with every whole word of 7 to 64 hex digits made `<hex>` (unicode word boundaries: a non-ASCII
    neighbour is one unless it is a letter or digit, looked at only when `foreign_words`).

    Such a word is a maximal run of hex digits with no word character on either side, so the runs of 7 or
    more are found as one literal in a copy with every hex digit made `h` (5x faster than the `\\b` regex on
    text with few of them), and only their edges are looked at.
    """
    out, pos, size = [], 0, len(data)
    for m in _HEX_RUN.finditer(data.translate(_HEX_AS_H)):
        start, end = m.span()
        if end - start > 64:
            continue
        before, after = data[start - 1] if start else 32, data[end] if end < size else 32
        if before in _WORD_BYTES or after in _WORD_BYTES:
            continue
        if foreign_words and (before >= 128 or after >= 128) and (
                data[max(0, start - 4):start].decode("utf-8", "ignore")[-1:].isalnum()
                or data[end:end + 4].decode("utf-8", "ignore")[:1].isalnum()):
            continue  # é1234567: no word boundary between them
        out += (data[pos:start], b"<hex>")
        pos = end
    if not out:
        return data
    out.append(data[pos:])
    return b"".join(out)


def exact_key(text: str) -> str:
    return _key(_normalised(text)[0])


def _key(normalised: bytes) -> str:
    return hashlib.blake2b(normalised, digest_size=16).hexdigest()


def _words(normalised: bytes, foreign_words: bool) -> list[bytes]:
    """The `\\w+` runs of normalised text, as UTF-8: split at every non-word byte, and, when the text holds
    non-ASCII letters or digits, the words that hold non-ASCII characters split by the unicode regex."""
    if not foreign_words:
        return normalised.translate(_NOT_WORD).split()
    words = []
    for word in normalised.translate(_NOT_ASCII_WORD).split():
        if word.isascii():
            words.append(word)
        else:
            words += [w.encode() for w in _WORD.findall(word.decode())]
    return words


def shingles(text: str, n: int) -> set[bytes]:
    """The distinct runs of `n` words (fewer when the text has fewer) of the normalised text, as UTF-8."""
    return _shingles(_words(*_normalised(text)), n)


def _shingles(words: list[bytes], n: int) -> set[bytes]:
    if len(words) < n:
        return {b" ".join(words)} if words else set()
    # the distinct n-tuples of words (a set of tuples, built in C), and only those joined
    return set(map(b" ".join, set(zip(*(words[i:] for i in range(n)), strict=False))))  # i-th list: i shorter


def minhash(text: str, num_perm: int = 128, n: int = 5):  # noqa: ANN201
    """The MinHash signature (factory/minhash.py) of a text's word shingles, each shingle hashed by crc32
    (stable across processes, 5x faster than sha1)."""
    return _minhash(_words(*_normalised(text)), num_perm, n)


def _minhash(words: list[bytes], num_perm: int, n: int):  # noqa: ANN202
    return signature(set(map(zlib.crc32, _shingles(words, n))), num_perm)


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
        normalised, foreign_words = _normalised(example.text())
        key = _key(normalised)
        if self.cfg.exact:
            if key in memo.keys:
                return (key, None), DROP
            memo.keys.add(key)
        if self.lsh is None:
            return (key, None), AHEAD
        sig = _minhash(_words(normalised, foreign_words), self.cfg.num_perm, self.cfg.shingle)
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
