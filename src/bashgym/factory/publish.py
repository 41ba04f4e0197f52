"""Publishing a dataset: the review shown before `dataset push`, the checks, the attestation, the upload.

The review puts in front of the user what they are about to make public: the redaction report, sample
rows, and every place the data still mentions their own login name, full name, git identity or hostname.
Unredacted datasets are refused outright. Then the exact bytes that will be uploaded are read once
(`staged_files`) and checked: each data file must still have the hash the build recorded, and a fresh
redactor re-scans every row and the card (`rescan`); anything found refuses the push with its file and line.
The attestation (the user's statement that they reviewed a sample and that no names of people or clients
remain) goes into the card (`with_attestation`); the upload sends those same bytes through huggingface_hub.
"""

from __future__ import annotations

import getpass
import hashlib
import io
import re
import socket
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from bashgym.errors import BashgymError, require
from bashgym.factory.split import SPLITS

SCANNED_FILES = ("train.jsonl", "validation.jsonl", "test.jsonl", "README.md")
# Words too common to flag as the user's identity (the redactor keeps the same list).
COMMON_WORDS = frozenset(
    "root admin user ubuntu debian test dev runner ec2-user vagrant node app www-data localhost".split()
)


class UnredactedDatasetError(BashgymError):
    """Publishing a dataset built with --no-redact."""


class PushCheckError(BashgymError):
    """A file to upload changed since the build, or still holds a secret or personal data."""


def identity_terms(extra: list[str] | None = None) -> list[str]:
    """The user's own names: login, full name, git user.name / user.email, hostname (short and full)."""
    terms = [getpass.getuser(), socket.gethostname(), socket.gethostname().split(".")[0], *(extra or [])]
    try:
        import os
        import pwd

        terms.append(pwd.getpwuid(os.getuid()).pw_gecos.split(",")[0])
    except (ImportError, KeyError):  # pragma: no cover - not POSIX
        pass
    for key in ("user.name", "user.email"):
        try:
            out = subprocess.run(["git", "config", "--global", "--get", key], capture_output=True, text=True,
                                 timeout=5)
            terms.append(out.stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    seen: dict[str, str] = {}
    for t in terms:
        t = (t or "").strip()
        if len(t) >= 3 and t.lower() not in COMMON_WORDS:
            seen.setdefault(t.lower(), t)
    return list(seen.values())


def scan_identity(path: Path, terms: list[str], limit: int = 20) -> list[dict[str, Any]]:
    """Where the dataset files mention one of `terms` (whole words, any case): {term, file, line, text}."""
    if not terms:
        return []
    pattern = re.compile(r"(?<![\w.-])(" + "|".join(re.escape(t) for t in terms) + r")(?![\w-])", re.IGNORECASE)
    hits: list[dict[str, Any]] = []
    for name in SCANNED_FILES:
        f = path / name
        if not f.exists():
            continue
        with f.open(encoding="utf-8", errors="replace") as fh:
            for line_no, line in enumerate(fh, 1):
                for m in pattern.finditer(line):
                    start = max(0, m.start() - 40)
                    hits.append({"term": m.group(1), "file": name, "line": line_no,
                                 "text": line[start : m.end() + 40].strip()})
                    if len(hits) >= limit:
                        return hits
    return hits


def sample_rows(train: Path, n: int) -> list[Any]:
    """Up to `n` rows of train.jsonl, spread over the file (first, last and evenly between)."""
    if n <= 0 or not train.exists():
        return []
    lines = [line for line in train.read_bytes().splitlines() if line.strip()]
    if len(lines) <= n:
        picked = lines
    else:
        step = (len(lines) - 1) / max(1, n - 1)
        picked = [lines[round(i * step)] for i in range(n)]
    return [orjson.loads(line) for line in picked]


def review(record: dict[str, Any], extra_terms: list[str] | None = None, samples_wanted: int = 3) -> dict[str, Any]:
    """What `dataset push` shows before asking: redaction report, sample rows, identity hits."""
    path = Path(record["path"])
    if not record.get("redacted", True):
        raise UnredactedDatasetError(
            f"{record['id']} was built with --no-redact; publishing unredacted data is refused. "
            "Rebuild it without --no-redact (`bashgym dataset build`) and push that one."
        )
    samples = sample_rows(path / "train.jsonl", samples_wanted)
    report_file = path / "redaction.json"
    report = orjson.loads(report_file.read_bytes()) if report_file.exists() else {}
    report.pop("locations", None)
    names = list((record.get("config") or {}).get("redact", {}).get("user_names") or [])
    return {
        "dataset": record["id"], "path": str(path), "rows": (record.get("counts") or {}).get("rows"),
        "redaction": report, "sample": samples[0] if samples else None, "samples": samples,
        "identity_hits": scan_identity(path, identity_terms(names + (extra_terms or []))),
    }


UPLOADED = ("README.md", "*.jsonl", "*.parquet")  # what a push sends, from the dataset's top folder


def rescan_redactor(record: dict[str, Any]) -> Any:
    """A fresh redactor with the build's extra patterns, for `rescan`; the user's own names are left to the
    identity scan (which `--allow-identity` can pass)."""
    from bashgym.factory.redact import Redactor
    from bashgym.settings import redaction_lists

    extra = list(((record.get("config") or {}).get("redact") or {}).get("extra_patterns") or [])
    allow, deny, projects = redaction_lists()
    # rows do not say which project they came from: every project's allowed values pass, global deny words
    # are searched (a project's own deny words were applied when the build redacted its sessions)
    allow = [*allow, *(value for project_allow, _ in projects.values() for value in project_allow)]
    return Redactor(extra_patterns=extra, allow=allow, deny=deny)


def staged_files(path: Path) -> dict[str, bytes]:
    """The bytes of every file a push uploads, read once: what is checked is what is sent."""
    names = sorted({p.name for pattern in UPLOADED for p in path.glob(pattern) if p.is_file()})
    return {name: (path / name).read_bytes() for name in names}


def check_build_hashes(record: dict[str, Any], files: dict[str, bytes]) -> list[str]:
    """Every data file (not the card) must be one the build wrote, with the hash the build recorded; the
    JSONL files together must still give the build's content hash. Returns what is wrong, per file."""
    counts = record.get("counts") or {}
    recorded: dict[str, str] = counts.get("file_sha256") or {}
    problems = []
    data = {name: blob for name, blob in files.items() if name != "README.md"}
    if not recorded:
        return [f"{record['id']} was built before bashgym recorded its files' hashes, so nothing can show "
                "they are unchanged; rebuild it (`bashgym dataset build`) and push the new version"]
    for name, blob in data.items():
        want = recorded.get(name)
        if want is None:
            problems.append(f"{name}: not written by the build of {record['id']} (remove it from {record['path']})")
        elif hashlib.sha256(blob).hexdigest() != want:
            problems.append(f"{name}: changed after the build (sha256 {hashlib.sha256(blob).hexdigest()[:12]}…, "
                            f"the build wrote {want[:12]}…)")
    if all(f"{s}.jsonl" in data for s in SPLITS):
        digest = hashlib.sha256()
        for split in SPLITS:
            digest.update(split.encode() + b"\0" + data[f"{split}.jsonl"])
        if digest.hexdigest() != record.get("content_hash"):
            problems.append(f"train/validation/test.jsonl: content hash {digest.hexdigest()[:12]}… is not the "
                            f"build's {str(record.get('content_hash'))[:12]}…")
    return problems


def rescan(files: dict[str, bytes], redactor: Any, limit: int = 50) -> list[dict[str, Any]]:
    """What a fresh redactor still finds in the files to upload: [{file, line, kind, field}], line = JSONL
    line, Parquet row (from 1) or card line. Rows are scanned string by string, as the build redacted them."""
    hits: list[dict[str, Any]] = []

    def found(name: str, line: int, before: int, prefix: str) -> None:
        for f in redactor.findings[before:]:
            field = f.location[len(prefix):].lstrip(".").rsplit(":", 1)[0] if f.location.startswith(prefix) else ""
            hits.append({"file": name, "line": line, "kind": f.kind, "field": field})

    for name, blob in files.items():
        if name.endswith(".jsonl"):
            rows: Iterable[tuple[int, Any]] = _jsonl_rows(name, blob)
        elif name.endswith(".parquet"):
            rows = _parquet_rows(name, blob)
        else:
            before = len(redactor.findings)
            redactor.redact_text(blob.decode("utf-8", "replace"), name)
            for f in redactor.findings[before:]:
                hits.append({"file": name, "line": int(f.location.rsplit(":", 1)[1]), "kind": f.kind, "field": ""})
            rows = ()
        for line, row in rows:
            before = len(redactor.findings)
            prefix = f"{name}:{line}"
            redactor.redact_obj(row, prefix)
            found(name, line, before, prefix)
            if len(hits) >= limit:
                return hits
    return hits[:limit]


def _jsonl_rows(name: str, blob: bytes) -> Iterable[tuple[int, Any]]:
    for line_no, line in enumerate(blob.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield line_no, orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise PushCheckError(f"{name}:{line_no}: not valid JSON ({exc}); the build writes one JSON object a "
                                 "line, so this file was edited: rebuild the dataset") from None


def _parquet_rows(name: str, blob: bytes) -> Iterable[tuple[int, Any]]:
    require("pyarrow", "factory")
    import pyarrow.parquet as pq

    try:
        # no Arrow thread pools: a CLI that exits on a refusal right after this read once aborted in Arrow's
        # C++ teardown ("terminate called without an active exception", exit -6) with its pools alive
        table = pq.read_table(io.BytesIO(blob), use_threads=False, pre_buffer=False)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds for a damaged file
        raise PushCheckError(f"{name}: not a readable Parquet file ({exc}); rebuild the dataset") from None
    yield from enumerate(table.to_pylist(), 1)


ATTESTATION_HEADING = "## Attestation"


ATTEST_EXAMPLE = "I reviewed 20 sample rows; no names of people or clients remain"


def check_statement(statement: str) -> str:
    """An `--attest` text must say both things the publisher confirms: a sample was reviewed, and no names of
    people or clients remain."""
    low = statement.lower()
    if "review" not in low or "name" not in low:
        raise BashgymError(f"--attest {statement!r} must say that you reviewed a sample and that no names of "
                           f"people or clients remain, e.g. --attest \"{ATTEST_EXAMPLE}\"")
    return statement.strip()


def attestation_text(*, when: str, samples: int, names_checked: int, statement: str | None) -> str:
    """The card's attestation: what the publisher confirmed, when (names searched for are counted, not listed,
    and the publisher is not named: the card is public)."""
    if statement is None:
        return (f"No attestation was given: pushed privately with `--yes` on {when}. Review a sample and push "
                "again without `--yes` (or with `--attest`) before making this dataset public.")
    searched = (f" {names_checked} name(s) of people, clients or companies were searched for in every file and "
                "not found." if names_checked else "")
    return f"On {when} the publisher was shown {samples} sample row(s) and attested: \"{statement}\".{searched}"


def with_attestation(card: str, text: str) -> str:
    """The card with its `## Attestation` section set to `text` (replacing an earlier one), before the
    licence section when there is one."""
    section = f"{ATTESTATION_HEADING}\n\n{text}\n"
    start = card.find(ATTESTATION_HEADING + "\n")
    if start != -1:
        end = card.find("\n## ", start + len(ATTESTATION_HEADING))
        card = card[:start] + (card[end + 1:] if end != -1 else "")
    licence = card.find("## Licence")
    if licence == -1:
        return card.rstrip("\n") + "\n\n" + section
    return card[:licence] + section + "\n" + card[licence:]


def scan_names(files: dict[str, bytes], names: list[str], limit: int = 20) -> list[dict[str, Any]]:
    """Where the files to upload mention one of `names` (whole words, any case): {term, file, line}."""
    names = [n.strip() for n in names if len(n.strip()) >= 2]
    if not names:
        return []
    pattern = re.compile(r"(?<![\w])(" + "|".join(re.escape(n) for n in names) + r")(?![\w])", re.IGNORECASE)
    hits: list[dict[str, Any]] = []
    for name, blob in files.items():
        if name.endswith(".parquet"):
            text = "\n".join(orjson.dumps(row, default=str).decode() for _, row in _parquet_rows(name, blob))
        else:
            text = blob.decode("utf-8", "replace")
        for line_no, line in enumerate(text.splitlines(), 1):
            for m in pattern.finditer(line):
                hits.append({"term": m.group(1), "file": name, "line": line_no})
                if len(hits) >= limit:
                    return hits
    return hits


def upload(record: dict[str, Any], repo: str, files: dict[str, bytes], *, endpoint: str | None = None,
           token: str | None = None, private: bool = True) -> str:
    """Create (if needed) the dataset repo and upload exactly `files` (name -> bytes, as checked); returns
    the commit URL."""
    require("huggingface_hub", "factory")
    from huggingface_hub import CommitOperationAdd, HfApi

    if not record.get("redacted", True):
        raise UnredactedDatasetError(f"{record['id']} was built with --no-redact; refusing to upload it")
    api = HfApi(endpoint=endpoint, token=token)
    try:
        api.create_repo(repo, repo_type="dataset", private=private, exist_ok=True)
        info = api.create_commit(
            repo_id=repo, repo_type="dataset",
            operations=[CommitOperationAdd(path_in_repo=name, path_or_fileobj=blob) for name, blob in files.items()],
            commit_message=f"bashgym: upload {record['id']} ({record.get('content_hash', '')[:12]})",
        )
    except Exception as exc:  # noqa: BLE001 - hub client errors are many; the user needs the message
        raise BashgymError(
            f"upload of {record['id']} to {repo} failed: {exc.__class__.__name__}: {str(exc).splitlines()[0]} "
            "(check --endpoint, --token / $HF_TOKEN, and that HF_HUB_OFFLINE is not set)"
        ) from None
    return str(getattr(info, "commit_url", info))
