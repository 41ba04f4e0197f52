"""The factory's fast paths give exactly what the plain ones give: rules gated once per object, MinHash from
hashed byte slices, and the multi-process build (rows, stats and redaction report in single-process order)."""

from __future__ import annotations

import gc
import json
import re
import zlib
from pathlib import Path

import pytest

from bashgym.factory.build import build_dataset
from bashgym.factory.config import DatasetConfig
from bashgym.factory.dedup import minhash, normalise, shingles
from bashgym.factory.minhash import MinHashLSH, optimal_bands
from bashgym.factory.redact import Redactor
from bashgym.factory.select import ALL_TIERS
from bashgym.store import Store
from factory_sessions import bash, save, save_many, say, session

CORPUS = Path(__file__).parent / "fixtures" / "redaction" / "corpus.jsonl"

EVERY_TIER = {"tiers": list(ALL_TIERS)}  # these sessions are never judged: keep them all


def _docs() -> list[str]:
    return [json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


def _one_by_one(r: Redactor, obj, location: str = "$"):  # noqa: ANN001, ANN202 - mirrors redact_obj
    if isinstance(obj, str):
        return r.redact_text(obj, location)
    if isinstance(obj, dict):
        return {(r.redact_text(k, f"{location}.<key>")): _one_by_one(r, v, f"{location}.{k}") for k, v in obj.items()}
    return [_one_by_one(r, v, f"{location}[{i}]") for i, v in enumerate(obj)]


@pytest.mark.parametrize("aho", [True, False], ids=["aho-corasick", "pure-python"])
def test_gated_redact_obj_finds_what_each_string_alone_finds(aho: bool) -> None:
    docs = _docs()
    objs = [{"prompt": docs[i], "steps": [{"output": docs[i + 1], "input": {"command": docs[i + 2][:200]}},
                                          {"kind": "tool_call", "AWS_SECRET": docs[i + 3]}]}
            for i in range(0, len(docs) - 3, 4)]
    gated, plain = Redactor(user_names=["alice"], hostnames=["devbox"]), Redactor(user_names=["alice"],
                                                                                   hostnames=["devbox"])
    if not aho:
        gated._gate_index.automaton = None
    for n, obj in enumerate(objs):
        assert gated.redact_obj(obj, f"ex{n}") == _one_by_one(plain, obj, f"ex{n}")
    assert gated.report() == plain.report()
    assert gated.report()["total"] > 200


@pytest.mark.parametrize("text", ["", "one two", "a b c d e", "the quick brown fox jumps over the lazy dog " * 9,
                                  "naïve café ✓ 日本語 tokens and more words than five here 1234 deadbeef99",
                                  " ".join(f"w{i} x{i % 7}" for i in range(6000))])  # more shingles than a block
def test_minhash_equals_datasketch_on_the_crc32_of_each_shingle(text: str) -> None:
    """Our MinHash (factory/minhash.py) gives datasketch 2's numbers (scheme affine32, seed 1), so dedup keeps
    the rows it kept when it used datasketch."""
    from datasketch import MinHash

    expected = MinHash(num_perm=64, hashfunc=zlib.crc32)
    expected.update_batch(list(shingles(text, 5)))
    got = minhash(text, 64, 5)
    assert got.dtype == expected.hashvalues.dtype and (got == expected.hashvalues).all()


@pytest.mark.parametrize("num_perm", [16, 64, 128, 256])
def test_lsh_bands_are_datasketchs(num_perm: int) -> None:
    from datasketch.lsh import _optimal_param

    for threshold in [0.1, 0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 0.95]:
        assert optimal_bands(threshold, num_perm) == _optimal_param(threshold, num_perm, 0.5, 0.5), threshold


def test_lsh_finds_what_datasketchs_finds() -> None:
    """Same candidates for every query as datasketch's MinHashLSH, over texts that share more or less."""
    import random

    from datasketch import MinHash
    from datasketch import MinHashLSH as Reference

    rng = random.Random(3)
    words = [f"w{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(60)]  # no digits: normalise keeps them
    base = [rng.choice(words) for _ in range(200)]
    texts = [" ".join(w if rng.random() > edit else rng.choice(words) for w in base)
             for edit in [0.0, 0.01, 0.02, 0.05, 0.1, 0.3, 0.6] for _ in range(4)]
    ours, theirs = MinHashLSH(threshold=0.85, num_perm=128), Reference(threshold=0.85, num_perm=128)
    for i, text in enumerate(texts):
        sig = minhash(text)
        reference = MinHash(num_perm=128, hashvalues=sig, scheme="affine32")
        assert sorted(ours.query(sig)) == sorted(theirs.query(reference)), i
        ours.insert(f"t{i}", sig)
        theirs.insert(f"t{i}", reference)
    assert sum(bool(ours.query(minhash(t))) for t in texts) == len(texts)  # each finds itself at least
    assert len(ours.query(minhash(texts[0]))) < len(texts)  # and not everything


@pytest.mark.parametrize("text", ["", "  a\t\tb \n", "x\x1cy\x1f z\u2028w\xa0v\u3000u\x85t  ", "ID 3F2A9C1D at 12:03\r\n",
                                  "naïve café ✓ 日本語 ٣٤ deadbeef99 \u200b zero-width is not space"])
def test_normalise_collapses_the_whitespace_the_regex_did(text: str) -> None:
    assert normalise(text) == _unicode_normalise(text)


def _unicode_normalise(text: str) -> str:
    """normalise as three unicode regexes (its definition, before the ASCII fast paths)."""
    lowered = re.sub(r"\d+", "0", re.sub(r"\b[0-9a-f]{7,64}\b", "<hex>", text.lower()))
    return re.sub(r"\s+", " ", lowered).strip()


def test_normalise_masks_hex_ids_by_unicode_word_boundaries() -> None:
    """Hex ids next to non-ASCII letters, digits, symbols and spaces, underscores, runs too long, in many
    random mixes that take each of normalise's three paths (ASCII bytes; bytes beside non-ASCII symbols or
    letters; the unicode regexes where a non-ASCII digit is): the same as the unicode regexes (an ASCII
    boundary is not a unicode one next to `é` or `٣`), and the same shingles."""
    import random

    ascii_pieces = ["3f2a9c1d", "deadbeefcafe", "1234567", "abcdef", "f" * 64, "a" * 65, "_", "K", " ", "\n",
                    "-", "x", "0", "DEADBEEF1", "00", "9", "\x1c", "\t\r"]
    symbols = ["✓", "—", "→", "\xa0", "\u2028", "\u3000", "\x85", "\u200b", "😀"]
    letters = ["é", "ü", "日本", "K", "²", "ǅ"]  # K: the Kelvin sign, lowered to an ASCII k; ²: alnum, no digit
    digits = ["٣", "０"]
    rng = random.Random(7)
    texts = ["é1234567", "1234567é", "٣deadbeef", "deadbeef٣ ok", "_1234567", "id 3f2a9c1d é", "✓deadbeef1✓",
             "deadbeef1é ✓deadbeef2 ébeef1234"]
    paths = {"ascii": 0, "symbols": 0, "letters": 0, "digits": 0}
    for pool in [ascii_pieces, ascii_pieces + symbols, ascii_pieces + symbols + letters,
                 ascii_pieces + symbols + letters + digits]:
        for _ in range(1500):
            text = "".join(rng.choice(pool) for _ in range(rng.randint(1, 14)))
            lowered = text.lower()
            foreign = {c for c in lowered if not c.isascii()}
            paths["digits" if any(c.isdecimal() for c in foreign) else "letters" if any(c.isalnum() for c in foreign)
                  else "symbols" if foreign else "ascii"] += 1
            texts.append(text)
    assert min(paths.values()) > 500, paths
    for text in texts:
        assert normalise(text) == _unicode_normalise(text), text
        words = re.findall(r"\w+", _unicode_normalise(text))
        assert shingles(text, 3) == ({" ".join(words[i:i + 3]).encode() for i in range(len(words) - 2)}
                                     if len(words) >= 3 else {" ".join(words).encode()} if words else set()), text


@pytest.fixture()
def many(store: Store) -> Store:
    return save_many(store)


def _written(record: dict) -> tuple[str, str, dict]:
    path = Path(record["path"])
    rows = "".join((path / f"{s}.jsonl").read_text() for s in ("train", "validation", "test"))
    report = json.loads((path / "redaction.json").read_text())
    return rows, (path / "stats.json").read_text(), report


@pytest.mark.parametrize("fmt", ["messages", "kto"])
def test_parallel_build_writes_single_process_rows_in_order(many: Store, fmt: str) -> None:
    write = {"hf": False, "parquet": False}
    one = build_dataset(many, DatasetConfig(name="one", format=fmt, write=write, select=EVERY_TIER), workers=1)
    two = build_dataset(many, DatasetConfig(name="two", format=fmt, write=write, select=EVERY_TIER), workers=2)
    assert gc.get_freeze_count() == 0  # the build froze its long-lived objects for GC's sake, and thawed them
    rows1, stats1, report1 = _written(one)
    rows2, stats2, report2 = _written(two)
    assert rows1 == rows2  # same rows in the same order, placeholder numbers included
    assert stats1 == stats2
    dedup = next(s for s in json.loads(stats2)["steps"] if s["name"] == "dedup")
    assert sum(dedup["dropped"].values()) >= 16 and dedup["kept"] > 0
    assert list(report1) == list(report2)  # same keys, same order: redaction.json reads the same
    assert report1["locations"] == report2["locations"] and report1["counts"] == report2["counts"]
    assert report1["total"] == report2["total"] > 30
    assert report1["distinct_values"] == report2["distinct_values"]  # a value two workers met counts once
    assert "ghp_" not in rows2 and "/home/alice" not in rows2 and "_#" not in rows2  # nothing provisional left


def test_one_value_has_one_placeholder_across_the_whole_parallel_build(store: Store) -> None:
    """The same secret in sessions that different workers redact gets the same number; different secrets
    get different numbers; numbers count up in the order the rows show them."""
    shared, other = "ghp_" + "Sh4red9x" * 5, "ghp_" + "0ther7Yq" * 5
    sessions = []
    for i in range(24):
        token = shared if i % 2 == 0 else other
        steps = [bash(f"GITHUB_TOKEN={token} make deploy-{i}", f"deployed service {i} at step {i * 7}"),
                 say(f"Deployed number {i}; the log has {i * 3} lines.")]
        sessions.append(session(f"t{i:02d}", [(f"Deploy service {i} with the token", steps)],
                                started=f"2026-11-{1 + i:02d}T10:00:00Z"))
    save(store, *sessions)
    cfg = DatasetConfig(name="consistent", format="messages", write={"hf": False, "parquet": False},
                        dedup={"exact": False, "near": False}, select=EVERY_TIER)
    record = build_dataset(store, cfg, workers=2)
    rows = [json.loads(line) for split in ("train", "validation", "test")
            for line in (Path(record["path"]) / f"{split}.jsonl").read_text().splitlines()]
    seen: dict[str, set[str]] = {}
    for row in rows:
        text = json.dumps(row)
        number = re.search(r"GITHUB_TOKEN=(<SECRET_\d+>)", text).group(1)
        which = int(re.search(r"make deploy-(\d+)", text).group(1))
        seen.setdefault("even" if which % 2 == 0 else "odd", set()).add(number)
    assert len(seen["even"]) == 1 and len(seen["odd"]) == 1 and seen["even"] != seen["odd"]
    assert seen["even"] | seen["odd"] == {"<SECRET_1>", "<SECRET_2>"}
    report = json.loads((Path(record["path"]) / "redaction.json").read_text())
    assert report["distinct_values"]["secret"] == 2
