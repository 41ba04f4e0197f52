"""Run the redactor (factory/redact.py, owned by the redaction area) over every example's content.

A build's redactors (one per process) share a key and write provisional placeholders, keyed hashes of the
values; the build numbers them (`<SECRET_1>`, …) in the order its rows show them, so a value has one
placeholder across the whole dataset however many processes redacted it. Turns and attached subagent
sessions go through `redact_obj` in their JSON form, so every prompt, message, thinking, tool input and
output is covered, then come back as schema objects.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bashgym.factory.pipeline import Example, Map
from bashgym.schema import Session, Turn


def make_redactor(user_names: Sequence[str] = (), extra_patterns: Sequence[str] = (),
                  token_key: bytes | None = None) -> Any:
    """The build's Redactor: configured names plus this machine's user, home directory and hostname, and
    the allow/deny lists of `bashgym config` (global and per project, see `Redact`).
    With `token_key` it writes provisional placeholders for `Renumber` (see redact.Redactor)."""
    from bashgym.factory.redact import Redactor

    return Redactor(**redactor_settings(user_names, extra_patterns, token_key))


def redactor_settings(user_names: Sequence[str] = (), extra_patterns: Sequence[str] = (),
                      token_key: bytes | None = None) -> dict[str, Any]:
    """`make_redactor`'s arguments to `Redactor`, resolved here: a build's workers (other processes, other
    machines of a Ray cluster) redact with the names, home, hostname and lists of the machine that runs the
    build, not their own."""
    from bashgym.settings import redaction_lists

    allow, deny, projects = redaction_lists()
    return dict(user_names=[*user_names, *identity_names()], home=str(Path.home()),
                extra_patterns=list(extra_patterns), hostnames=[socket.gethostname()], token_key=token_key,
                allow=allow, deny=deny, projects=projects)


def capture_redactor(home: Path | None = None, *, force: bool = False) -> Any:
    """The Redactor of a redacting import (`capture.redact` is on, or `force`), else None. Provisional
    placeholders under a key drawn for this import and never stored (a dataset build numbers them), so
    nothing on disk can be matched back to a value; per-project deny words apply everywhere (a raw line has
    no project yet), allow values are the global ones."""
    from bashgym.factory.redact import Redactor
    from bashgym.settings import capture_redact, redaction_lists

    if not (force or capture_redact(home)):
        return None
    allow, deny, projects = redaction_lists(home)
    deny = [*deny, *(word for _, project_deny in projects.values() for word in project_deny)]
    return Redactor(user_names=identity_names(), home=str(Path.home()), hostnames=[socket.gethostname()],
                    allow=allow, deny=deny, token_key=os.urandom(16))


def identity_names() -> list[str]:
    """The login name and the full name (GECOS) of the user running the build."""
    names = [getpass.getuser()]
    try:
        import pwd

        gecos = pwd.getpwuid(os.getuid()).pw_gecos.split(",")[0].strip()
        if gecos:
            names.append(gecos)
    except (ImportError, KeyError):  # pragma: no cover - not on POSIX
        pass
    return [n for n in names if n]


class Redact(Map):
    """Redact each example in place of its text; the redactor's report is the build's redaction report."""

    name = "redact"

    def __init__(self, redactor: Any) -> None:
        super().__init__()
        self.redactor = redactor

    def apply(self, example: Example) -> Example:
        r = self.redactor
        r.use_project(example.session.cwd or example.session.project)
        example.turns = [Turn.from_dict(r.redact_obj(t.to_dict(), f"{example.id}/turn{t.index}"))
                         for t in example.turns]
        if example.children:
            example.children = [Session.from_dict(r.redact_obj(c.to_dict(), f"{example.id}/subagent:{c.id}"))
                                for c in example.children]
        session = example.session
        for attr in ("project", "cwd", "title", "git_branch"):
            value = getattr(session, attr)
            if value:
                setattr(session, attr, r.redact_text(value, f"{example.id}/session.{attr}"))
        return example

    def report(self) -> dict[str, Any]:
        return self.redactor.report()

    def begin_shard(self) -> None:
        """Start a shard's tally (see `shard_tally`)."""
        self.redactor.reset_report()

    def shard_tally(self) -> dict[str, Any]:
        """What this shard's redaction found: counts per kind, the placeholders handed out (category, token),
        where each finding was (up to the redactor's cap) and that cap; `RedactionTally` makes the build's
        report of them."""
        r = self.redactor
        return {"counts": dict(r.counts), "placeholders": r.placeholders(), "cap": r.max_findings,
                "locations": [{"kind": f.kind, "location": f.location} for f in r.findings]}


class RedactionTally:
    """The build's redaction report, added up from its shards' tallies (`Redact.shard_tally`) in shard order
    as they arrive: the same report, key for key, as one Redactor's over all of them (`Redactor.report`) — a
    value met in two shards is one value. Keeps counts, the distinct placeholders and the first `cap`
    locations, so its memory does not grow with the shards."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.placeholders: set[tuple[str, str]] = set()
        self.locations: list[dict[str, str]] = []
        self.cap: int | None = None

    def add(self, tally: dict[str, Any]) -> None:
        self.cap = tally["cap"] if self.cap is None else min(self.cap, tally["cap"])
        self.counts.update(tally["counts"])
        self.placeholders |= tally["placeholders"]
        if len(self.locations) < self.cap:
            self.locations.extend(tally["locations"][: self.cap - len(self.locations)])

    def report(self) -> dict[str, Any]:
        from bashgym.factory.redact import distinct_by_category

        total = sum(self.counts.values())
        return {"total": total, "counts": dict(sorted(self.counts.items())),
                "distinct_values": distinct_by_category(self.placeholders), "locations": self.locations,
                "locations_truncated": total > len(self.locations)}
