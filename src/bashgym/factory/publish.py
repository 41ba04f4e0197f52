"""Publishing a dataset: the review shown before `dataset push`, and the upload itself.

The review puts in front of the user what they are about to make public: the redaction report, a sample
row, and every place the data still mentions their own login name, full name, git identity or hostname.
Unredacted datasets are refused outright; the upload goes through huggingface_hub (any endpoint).
"""

from __future__ import annotations

import getpass
import re
import socket
import subprocess
from pathlib import Path
from typing import Any

import orjson

from bashgym.errors import BashgymError, require

SCANNED_FILES = ("train.jsonl", "validation.jsonl", "test.jsonl", "README.md")
# Words too common to flag as the user's identity (the redactor keeps the same list).
COMMON_WORDS = frozenset(
    "root admin user ubuntu debian test dev runner ec2-user vagrant node app www-data localhost".split()
)


class UnredactedDatasetError(BashgymError):
    """Publishing a dataset built with --no-redact."""


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


def review(record: dict[str, Any], extra_terms: list[str] | None = None) -> dict[str, Any]:
    """What `dataset push` shows before asking: redaction report, a sample row, identity hits."""
    path = Path(record["path"])
    if not record.get("redacted", True):
        raise UnredactedDatasetError(
            f"{record['id']} was built with --no-redact; publishing unredacted data is refused. "
            "Rebuild it without --no-redact (`bashgym dataset build`) and push that one."
        )
    sample = None
    train = path / "train.jsonl"
    if train.exists():
        with train.open("rb") as fh:
            first = fh.readline()
        sample = orjson.loads(first) if first.strip() else None
    report_file = path / "redaction.json"
    report = orjson.loads(report_file.read_bytes()) if report_file.exists() else {}
    report.pop("locations", None)
    names = list((record.get("config") or {}).get("redact", {}).get("user_names") or [])
    return {
        "dataset": record["id"], "path": str(path), "rows": (record.get("counts") or {}).get("rows"),
        "redaction": report, "sample": sample,
        "identity_hits": scan_identity(path, identity_terms(names + (extra_terms or []))),
    }


def upload(record: dict[str, Any], repo: str, *, endpoint: str | None = None, token: str | None = None,
           private: bool = True) -> str:
    """Create (if needed) the dataset repo and upload the card and data files; returns the commit URL."""
    require("huggingface_hub", "factory")
    from huggingface_hub import HfApi

    if not record.get("redacted", True):
        raise UnredactedDatasetError(f"{record['id']} was built with --no-redact; refusing to upload it")
    api = HfApi(endpoint=endpoint, token=token)
    try:
        api.create_repo(repo, repo_type="dataset", private=private, exist_ok=True)
        info = api.upload_folder(
            folder_path=record["path"], repo_id=repo, repo_type="dataset",
            allow_patterns=["README.md", "*.jsonl", "*.parquet"],
            commit_message=f"bashgym: upload {record['id']} ({record.get('content_hash', '')[:12]})",
        )
    except Exception as exc:  # noqa: BLE001 - hub client errors are many; the user needs the message
        raise BashgymError(
            f"upload of {record['id']} to {repo} failed: {exc.__class__.__name__}: {str(exc).splitlines()[0]} "
            "(check --endpoint, --token / $HF_TOKEN, and that HF_HUB_OFFLINE is not set)"
        ) from None
    return str(getattr(info, "commit_url", info))
