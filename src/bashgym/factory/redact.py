"""Redaction: remove secrets and personal data from everything the factory writes.

One `Redactor` per dataset build, so placeholders stay consistent across examples: the same secret always
becomes the same `<SECRET_n>`, the same email `<EMAIL_n>`, and every home directory `/home/<USER>`, so code
that used a value twice still reads coherently. Detection is by shape (provider prefixes) and context (key
names, headers, URL password slots), plus detect-secrets' regex plugins as a second opinion; its
high-entropy checks are NOT used (they wipe commit ids, UUIDs and base64 images). Rules live in
`redact_rules.py`; the detect-secrets adapter in `redact_detect_secrets.py`.

>>> r = Redactor(user_names=["alice"])
>>> r.redact_text("export GITHUB_TOKEN=ghp_" + "aB3" * 12 + " # /home/alice/src")
'export GITHUB_TOKEN=<SECRET_1> # /home/<USER>/src'
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any
from urllib.parse import unquote

from bashgym.factory.redact_encoded import encoded_spans
from bashgym.factory.redact_numbers import CardDetector, load_phone_detector
from bashgym.factory.redact_rules import (
    CATEGORY_PRIORITY,
    CONTEXT_RULES,
    NAME,
    PII_RULES,
    PROVIDER_RULES,
    SECRET,
    USER,
    Rule,
    escaped_break,
    hostname_rule,
    token_lines,
    user_name_rule,
)

PLACEHOLDER_PREFIX = {"secret": "SECRET", "email": "EMAIL", "phone": "PHONE", "ip": "IP", "name": "NAME",
                      "host": "HOST", "card": "CARD"}
# Usernames too common to replace as words in free text (still replaced inside home paths).
COMMON_USERNAMES = frozenset("root admin user ubuntu debian test dev runner ec2-user vagrant node app www-data".split())
HOME = "home"
MIN_REPEAT_LEN = 8  # a found secret this long is also removed wherever else it appears in the same text
CLEAN_CACHE_LEN = 64  # strings up to this long that hold nothing are remembered, and not scanned again
CLEAN_CACHE_SIZE = 200_000
SEEN_CACHE_CHARS = 16_000_000  # longer strings met before, with their spans, up to this many characters in all


@dataclass(frozen=True)
class Finding:
    """One removed value: what kind, which placeholder replaced it, and where (never the value itself)."""

    kind: str
    category: str
    placeholder: str
    location: str


class Redactor:
    """Finds and replaces secrets and personal data; keeps placeholders consistent for its lifetime."""

    def __init__(
        self,
        *,
        user_names: Sequence[str] = (),
        home: str | os.PathLike[str] | None = None,
        extra_patterns: Iterable[Any] = (),
        hostnames: Sequence[str] = (),
        use_detect_secrets: bool = True,
        max_findings: int = 100_000,
        token_key: bytes | None = None,
        allow: Iterable[str] = (),
        deny: Iterable[str] = (),
        projects: dict[str, tuple[Sequence[str], Sequence[str]]] | None = None,
    ) -> None:
        """`token_key`: write provisional placeholders, `<SECRET_#<keyed hash>>`, the same for a value in
        every Redactor given the same key, for a build whose workers redact apart; `Renumber` turns them
        into `<SECRET_n>` in the order the written rows show them.

        `deny`: words and names always removed (whole words, any case) as `<NAME_n>`; `allow`: values never
        removed, exactly as written; `projects`: {directory: (allow, deny)} added to those for text of a
        session in that directory (see `use_project`), as `bashgym config set redact.deny ... --project`
        stores them."""
        self._token_key = token_key
        self._lists = (frozenset(a for a in allow if a), [d for d in deny if d.strip()])
        self._projects = {os.path.normpath(root): (frozenset(a for a in al if a), [d for d in de if d.strip()])
                          for root, (al, de) in (projects or {}).items()}
        self._active: tuple[frozenset[str], re.Pattern[str] | None] = (frozenset(), None)
        self._active_cache: dict[tuple[str, ...], tuple[frozenset[str], re.Pattern[str] | None]] = {}
        self.use_project(None)
        names = [n for n in user_names if n]
        if home:
            base = os.path.basename(os.path.normpath(str(home)))
            if base and base.lower() not in COMMON_USERNAMES:
                names.append(base)
        names = [n for n in names if n.lower() not in COMMON_USERNAMES]
        self.rules: list[Rule] = [*PROVIDER_RULES, *CONTEXT_RULES, *_extra_rules(extra_patterns), *PII_RULES]
        for extra in (user_name_rule(names), hostname_rule(list(hostnames))):
            if extra is not None:
                self.rules.append(extra)
        self._home = str(home).rstrip("/\\") if home else None
        detectors: list[Any] = [CardDetector()]
        phones = load_phone_detector()
        if phones is not None:
            detectors.append(phones)
        if use_detect_secrets:
            from bashgym.factory.redact_detect_secrets import load_detectors

            detectors.extend(load_detectors())
        # Provider tokens run only on the few lines that hold a long token-like run (see `token_lines`). Each
        # rule keeps its rank in the full list, so overlapping finds are labelled the same whatever ran first.
        ranked: list[tuple[float, Any]] = [*enumerate(self.rules), *((len(self.rules) + i, d)
                                                                      for i, d in enumerate(detectors))]
        self._token_checks = [(i, c) for i, c in ranked if c.token_run]
        self._text_checks = [(i, c) for i, c in ranked if not c.token_run]
        self._all_checks = ranked
        self._full_checks = (self._text_checks, self._token_checks)
        self._checks = self._full_checks  # narrowed by `redact_obj` (see `_gate`)
        # per check: (searched in lowered text?, its triggers) or (False, None) when it always runs
        self._gate_triggers = [_gate_triggers(c) for _, c in ranked]
        self._gate_index = TriggerIndex([t for ci, ts in self._gate_triggers if ts and not ci for t in ts],
                                        [t for ci, ts in self._gate_triggers if ts and ci for t in ts])
        self._clean: set[str] = set()  # short strings known to hold nothing (keys, roles, tool names)
        # Longer strings met before and what was found in them: transcripts repeat tool specs, system prompts,
        # file reads and logs across turns and sessions. Only detection is skipped; each occurrence is still
        # replaced, counted and located, so the output and the report are the same as without it.
        self._seen: dict[str, list[tuple[int, int, str, str]]] = {}
        self._seen_chars = 0
        self._pending: Any = None  # the object `redact_obj` is on, whose gate is worked out on first need
        self._decoded: dict[str, list[tuple[int, int, str, str]]] = {}  # see `_find_decoded`
        self.max_findings = max_findings
        self.findings: list[Finding] = []
        self.counts: Counter[str] = Counter()
        self._placeholders: dict[tuple[str, str], str] = {}
        self._next: Counter[str] = Counter()

    # --- public API ------------------------------------------------------------------------------------

    def use_project(self, directory: str | None) -> None:
        """Redact what follows as text of a session in `directory`: the global allow/deny lists plus those
        of every configured project directory that holds it. Placeholders and the report carry on."""
        path = os.path.normpath(directory) if directory else ""
        roots = tuple(sorted(r for r in self._projects if path == r or path.startswith(r.rstrip("/") + "/")))
        active = self._active_cache.get(roots)
        if active is None:
            allow = set(self._lists[0])
            deny = list(self._lists[1])
            for root in roots:
                allow |= self._projects[root][0]
                deny += self._projects[root][1]
            active = self._active_cache[roots] = (frozenset(allow), _deny_regex(deny))
        if active is not self._active:
            self._active = active
            self._clean = set()  # a string clean under other lists may hold one of these deny words
            self._decoded = {}
            self._seen, self._seen_chars = {}, 0

    def redact_text(self, text: str, location: str = "text", *, first_line: int = 1) -> str:
        """`text` with every secret and personal value replaced by its placeholder.

        Findings are located as `location:line`, counting from `first_line` (for chunked input).
        """
        if not text or not isinstance(text, str):
            return text
        short = len(text) <= CLEAN_CACHE_LEN
        if short and text in self._clean:
            return text
        spans = None if short else self._seen.get(text)
        if spans is None:
            spans = self._find(text)
            if not short and self._seen_chars + len(text) <= SEEN_CACHE_CHARS:
                self._seen[text] = spans
                self._seen_chars += len(text)
        if not spans:
            if short and len(self._clean) < CLEAN_CACHE_SIZE:
                self._clean.add(text)
            return text
        return self._apply(text, spans, location, first_line)

    def _known(self, text: str) -> bool:
        """Whether `redact_text` would take `text`'s spans from its caches instead of scanning it."""
        return text in self._clean if len(text) <= CLEAN_CACHE_LEN else text in self._seen

    def redact_obj(self, obj: Any, location: str = "$") -> Any:
        """A copy of a JSON-like value (dict/list/str/...) with every string redacted (keys too)."""
        if isinstance(obj, str):
            return self.redact_text(obj, location)
        saved, self._checks, self._pending = self._checks, None, obj  # gated on the first string not known
        try:
            return self._redact_obj(obj, location)
        finally:
            self._checks, self._pending = saved, None

    def _redact_obj(self, obj: Any, location: str) -> Any:
        if isinstance(obj, str):
            return self.redact_text(obj, location)
        if isinstance(obj, dict):
            return {
                (self.redact_text(k, f"{location}.<key>") if isinstance(k, str) else k):
                self._redact_obj(v, f"{location}.{k}")
                for k, v in obj.items()
            }
        if isinstance(obj, list | tuple):
            out = [self._redact_obj(v, f"{location}[{i}]") for i, v in enumerate(obj)]
            return out if isinstance(obj, list) else tuple(out)
        return obj

    def _gate(self, batch: str) -> tuple[list[tuple[float, Any]], list[tuple[float, Any]]]:
        """The checks that can fire anywhere in `batch` (all the strings of one object, joined).

        A check with literal triggers finds nothing in a text holding none of them, and a trigger missing
        from the batch is missing from each of its strings, so the others are skipped for every string of
        the object: one scan of the batch instead of one per string per check, same spans.
        """
        found = self._gate_index.found(batch)
        keep = [rc for rc, (ci, triggers) in zip(self._all_checks, self._gate_triggers, strict=True)
                if triggers is None or not found[ci].isdisjoint(triggers)]
        return [rc for rc in keep if not rc[1].token_run], [rc for rc in keep if rc[1].token_run]

    def report(self) -> dict[str, Any]:
        """Counts per kind and category, distinct values per category, and where each finding was."""
        return {
            "total": sum(self.counts.values()),
            "counts": dict(sorted(self.counts.items())),
            "distinct_values": distinct_by_category(self.placeholders()),
            "locations": [{"kind": f.kind, "location": f.location} for f in self.findings],
            "locations_truncated": sum(self.counts.values()) > len(self.findings),
        }

    # --- detection -------------------------------------------------------------------------------------

    def _find(self, text: str, depth: int = 0) -> list[tuple[int, int, str, str]]:
        """Spans to replace in `text`; `depth` > 0 for text decoded from a percent-encoded or base64 run,
        which every check sees (the gate of `redact_obj` only looked at the encoded form)."""
        if depth == 0 and self._checks is None:  # the first string of `redact_obj`'s object to scan
            strings: list[str] = []
            _collect_strings(self._pending, strings)
            # only over the strings `redact_text` will scan: the others' spans are remembered
            self._checks = self._gate("\n".join(s for s in strings if not self._known(s)))
        text_checks, token_checks = self._checks if depth == 0 else self._gate(text)
        ranked = _run_checks(text_checks, text, text)
        lines = token_lines(text) if token_checks else []
        if lines:
            ranked.extend(_on_lines(text, lines, token_checks))
        ranked.sort(key=lambda r: r[0])
        spans = [span for _, span in ranked]
        if self._home and self._home in text:
            spans.extend(_home_spans(text, self._home))
        spans.extend(encoded_spans(text, self._find_decoded, depth))
        allow, deny = self._active
        if deny is not None:
            spans.extend(_deny_spans(text, deny))
        if not spans:
            return spans
        spans = _merge(_add_repeats(text, spans))
        if allow:
            spans = [sp for sp in spans if text[sp[0]:sp[1]] not in allow and unquote(text[sp[0]:sp[1]]) not in allow]
        return spans

    def _find_decoded(self, text: str, depth: int) -> list[tuple[int, int, str, str]]:
        """`_find` for text decoded from a percent-encoded or base64 run, remembered: the same URL or blob
        recurs across a transcript (and `use_project` forgets them with the clean strings)."""
        found = self._decoded.get(text)
        if found is None:
            found = self._find(text, depth)
            if len(self._decoded) < CLEAN_CACHE_SIZE:
                self._decoded[text] = found
        return found

    def _apply(self, text: str, spans: list[tuple[int, int, str, str]], location: str, first_line: int) -> str:
        out: list[str] = []
        pos = 0
        line, line_pos = first_line, 0
        for start, end, kind, category in spans:
            placeholder = self._placeholder(category, text[start:end])
            out.append(text[pos:start])
            out.append(placeholder)
            pos = end
            self.counts[kind] += 1
            if len(self.findings) < self.max_findings:
                line += text.count("\n", line_pos, start)
                line_pos = start
                self.findings.append(Finding(kind, category, placeholder, f"{location}:{line}"))
        out.append(text[pos:])
        return "".join(out)

    def _placeholder(self, category: str, value: str) -> str:
        if category == USER:
            return "<USER>"
        if category == HOME:
            return "/home/<USER>"
        if "%" in value:  # `maria%40gmail.com` is the same e-mail as `maria@gmail.com`
            value = unquote(value)
        key = (category, value)
        ph = self._placeholders.get(key)
        if ph is None:
            prefix = PLACEHOLDER_PREFIX.get(category, category.upper())
            if self._token_key is None:
                self._next[category] += 1
                ph = f"<{prefix}_{self._next[category]}>"
            else:
                digest = hmac.new(self._token_key, f"{category}\0{value}".encode("utf-8", "surrogatepass"),
                                  hashlib.sha256).hexdigest()[:PROVISIONAL_HEX]
                ph = f"<{prefix}_#{digest}>"
            self._placeholders[key] = ph
        return ph

    def reset_report(self) -> None:
        """Forget what was found so far (counts, findings, placeholders handed out), keeping the compiled
        checks and caches: a build's shard reports only its own finds. Only for provisional placeholders
        (`token_key`), which depend on the value alone, so nothing a later shard writes changes."""
        assert self._token_key is not None, "numbered placeholders would restart at 1"
        self.findings = []
        self.counts = Counter()
        self._placeholders = {}

    def placeholders(self) -> set[tuple[str, str]]:
        """(category, placeholder) of every value this redactor has replaced; the values are never exposed."""
        return {(category, ph) for (category, _), ph in self._placeholders.items()}


def distinct_by_category(placeholders: Iterable[tuple[str, str]]) -> dict[str, int]:
    """{category: how many distinct values} from `Redactor.placeholders()` (of one redactor, or a union)."""
    return dict(sorted(Counter(category for category, _ in placeholders).items()))


PROVISIONAL_HEX = 16
PROVISIONAL = re.compile(rf"<([A-Z]+)_#([0-9a-f]{{{PROVISIONAL_HEX}}})>")


class Renumber:
    """Turns provisional placeholders (`<SECRET_#…>`) into `<SECRET_1>`, `<SECRET_2>`, … numbered in the
    order the rows show them, one counter per category: however many processes redacted a build, the same
    value gets the same number everywhere, and the output is the same as a one-process build's."""

    def __init__(self) -> None:
        self.mapping: dict[str, str] = {}
        self._next: Counter[str] = Counter()

    def text(self, text: str) -> str:
        return PROVISIONAL.sub(self._number, text) if "_#" in text else text

    def obj(self, obj: Any) -> Any:
        """A JSON-like value with every string (keys too) renumbered."""
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, dict):
            return {self.text(k) if isinstance(k, str) else k: self.obj(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return type(obj)(self.obj(v) for v in obj)
        return obj

    def _number(self, match: re.Match[str]) -> str:
        token = match.group(0)
        final = self.mapping.get(token)
        if final is None:
            self._next[match.group(1)] += 1
            final = self.mapping[token] = f"<{match.group(1)}_{self._next[match.group(1)]}>"
        return final


def _gate_triggers(check: Any) -> tuple[bool, frozenset[str] | None]:
    """How `_gate` tests a check: its triggers, and whether they are looked for in the lowered text. A check
    with no triggers, or a one-character trigger (found in nearly any text), is never skipped."""
    triggers = check.triggers
    if not triggers or any(len(t) < 2 for t in triggers):
        return False, None
    return bool(isinstance(check, Rule) and check.ci), frozenset(triggers)


class TriggerIndex:
    """Which of some literal strings occur in a text: the case-sensitive ones in the text, the others in
    `text.lower()`. One Aho-Corasick pass (pyahocorasick, in the factory extra) over the lowered text finds
    both: an ASCII string in a text is, lowered, in the lowered text, so a case-sensitive one is looked for
    with `in` only when its lowered form occurs (half the scanning of a pass per kind). Without
    pyahocorasick, `in` per string."""

    def __init__(self, exact: Iterable[str], lowered: Iterable[str]) -> None:
        self.words = (sorted(set(exact)), sorted(set(lowered)))
        self._lowered = frozenset(self.words[1])
        self._exact_by_lower: dict[str, list[str]] = {}
        for w in self.words[0]:
            if w.isascii():
                self._exact_by_lower.setdefault(w.lower(), []).append(w)
        self._exact_other = [w for w in self.words[0] if not w.isascii()]  # lowering may change its length
        self.automaton: Any = None
        try:
            import ahocorasick
        except ImportError:
            return
        automaton = ahocorasick.Automaton()
        for w in self._lowered | self._exact_by_lower.keys():
            automaton.add_word(w, w)
        if len(automaton):
            automaton.make_automaton()
            self.automaton = automaton

    def found(self, text: str) -> tuple[set[str], set[str]]:
        """(exact strings in `text`, lowered strings in `text.lower()`)."""
        lower = text.lower()
        if self.automaton is None:
            return ({w for w in self.words[0] if w in text}, {w for w in self.words[1] if w in lower})
        hits = set(map(itemgetter(1), self.automaton.iter(lower)))
        exact = {w for h in hits if h in self._exact_by_lower for w in self._exact_by_lower[h] if w in text}
        exact.update(w for w in self._exact_other if w in text)
        return exact, hits & self._lowered


def _collect_strings(obj: Any, out: list[str]) -> None:
    """Every string in a JSON-like value, keys included."""
    if isinstance(obj, str):
        out.append(obj)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(k, str):
                out.append(k)
            _collect_strings(v, out)
    elif isinstance(obj, list | tuple):
        for v in obj:
            _collect_strings(v, out)


Ranked = list[tuple[float, tuple[int, int, str, str]]]  # (rank of the rule that found it, span)


def _run_checks(checks: list[tuple[float, Any]], text: str, full: str) -> Ranked:
    """Spans of every rule and detector that fires on `text` (all of `full`, or some of its lines)."""
    spans: Ranked = []
    lower: str | None = None
    for rank, check in checks:
        if not isinstance(check, Rule):  # a detect-secrets plugin
            if check.context:  # its triggers may lie outside `text`; found at C speed, before its slow regexes
                if check.triggered(full):
                    spans.extend((rank, span) for span in check.scan(text))
            elif check.triggered(text):
                spans.extend((rank, span) for span in check.scan(text))
            continue
        rule = check
        if rule.ci:
            if lower is None:
                lower = text.lower()
            hay = lower
        else:
            hay = text
        if rule.lines and not rule.starts and len(hay) == len(text):
            lines = _trigger_lines(hay, rule.triggers)
            if not lines:
                continue
            if sum(e - s for s, e in lines) * 4 < len(text):  # few lines: scan just those
                view = _LineView(text, lines)
                found = _rule_spans(rule, rule.regex, view.of(hay) if rule.ci else view.text, view.text)
                spans.extend((rank, span) for span in view.back(found))
                continue
        elif rule.triggers:
            for t in rule.triggers:
                if t in hay:
                    break
            else:
                continue
        regex = rule.regex
        if rule.ci and len(hay) != len(text):  # lower() moved offsets (rare non-ASCII): search the text
            hay, regex = text, re.compile(regex.pattern, regex.flags | re.I)
        spans.extend((rank, span) for span in _rule_spans(rule, regex, hay, text))
    return spans


def _trigger_lines(hay: str, triggers: tuple[str, ...]) -> list[tuple[int, int]]:
    """(start, end) of each line of `hay` holding one of `triggers`, in order."""
    found: set[tuple[int, int]] = set()
    for t in triggers:
        i = hay.find(t)
        while i != -1:
            end = hay.find("\n", i)
            end = len(hay) if end == -1 else end
            found.add((hay.rfind("\n", 0, i) + 1, end))
            i = hay.find(t, end)
    return sorted(found)


class _LineView:
    """Some whole lines of a text joined by newlines, and the way back to the text's offsets."""

    def __init__(self, text: str, lines: list[tuple[int, int]]) -> None:
        self.lines = lines
        self.text = self.of(text)
        self.starts, pos = [], 0
        for s, e in lines:
            self.starts.append(pos)
            pos += e - s + 1

    def of(self, text: str) -> str:
        return "\n".join(text[s:e] for s, e in self.lines)

    def back(self, spans: list[tuple[int, int, str, str]]) -> list[tuple[int, int, str, str]]:
        out = []
        for start, end, kind, category in spans:
            i = bisect_right(self.starts, start) - 1
            shift = self.lines[i][0] - self.starts[i]
            out.append((start + shift, end + shift, kind, category))
        return out


def _on_lines(text: str, lines: list[tuple[int, int]], checks: list[tuple[float, Any]]) -> Ranked:
    """Run line-local checks on just `lines` of `text`, with spans mapped back to `text`."""
    if sum(e - s for s, e in lines) * 2 > len(text):
        return _run_checks(checks, text, text)
    view = _LineView(text, lines)
    ranked = _run_checks(checks, view.text, text)
    return [(rank, span) for (rank, _), span in zip(ranked, view.back([sp for _, sp in ranked]), strict=True)]


def _anchored_matches(rule: Rule, hay: str) -> Iterator[re.Match[str]]:
    """What `rule.regex.finditer(hay)` yields, found by trying the regex only where a match can start: at each
    trigger occurrence minus the offsets the trigger can have inside a match (`rule.starts`)."""
    candidates: set[int] = set()
    for t, cases in rule.starts.items():
        i = hay.find(t)
        while i != -1:
            before = hay[i - 1] if i else ""
            for allowed, offsets in cases:
                if not allowed or (before and before in allowed):
                    candidates.update(i - k for k in offsets if i >= k)
            i = hay.find(t, i + 1)
    pos, match = 0, rule.regex.match
    for start in sorted(candidates):
        if start < pos:
            continue
        m = match(hay, start)
        if m is not None:
            pos = m.end() if m.end() > start else start + 1
            yield m


def _rule_spans(rule: Rule, regex: re.Pattern[str], hay: str, text: str) -> list[tuple[int, int, str, str]]:
    """Spans of one rule: run on `hay` (the text or its lowered twin), sliced and validated on `text`."""
    out = []
    back, not_after, validate = rule.back, rule.not_after, rule.validate
    matches = _anchored_matches(rule, hay) if rule.starts and regex is rule.regex else regex.finditer(hay)
    for m in matches:
        if back:
            start = m.start()
            stop = max(0, start - rule.back_max)
            while start > stop and text[start - 1] in back:
                start -= 1
            if start < m.start() and escaped_break(text, start + 1):
                start += 1  # not the `n` of an escaped line break before the value
            span = (start, m.start()) if rule.back_span else (start, m.end())
            first = start
        else:
            span = rule.span(m)
            if span is None:
                continue
            first = m.start()
        if span[0] == span[1] or (not_after and first > 0 and text[first - 1] in not_after
                                  and not escaped_break(text, first)):
            continue
        if validate is not None and not validate(text[span[0]:span[1]], m, text):
            continue
        out.append((span[0], span[1], rule.kind, rule.category))
    return out


def _home_spans(text: str, home: str) -> list[tuple[int, int, str, str]]:
    """The configured home directory anywhere (e.g. /srv/alice): the whole prefix becomes /home/<USER>."""
    spans = []
    start = text.find(home)
    while start != -1:
        end = start + len(home)
        if end == len(text) or not (text[end].isalnum() or text[end] in "_-."):
            spans.append((start, end, "home_path", HOME))
        start = text.find(home, end)
    return spans


def _add_repeats(text: str, spans: list[tuple[int, int, str, str]]) -> list[tuple[int, int, str, str]]:
    """A secret found once (say in `PASSWORD=...`) is removed wherever else it occurs in the text."""
    secrets = {(text[s:e], kind) for s, e, kind, cat in spans if cat == SECRET and e - s >= MIN_REPEAT_LEN}
    if not secrets:
        return spans
    taken = {(s, e) for s, e, _, _ in spans}
    for value, kind in secrets:
        i = text.find(value)
        while i != -1:
            if (i, i + len(value)) not in taken:
                spans.append((i, i + len(value), kind, SECRET))
            i = text.find(value, i + len(value))
    return spans


def _merge(spans: list[tuple[int, int, str, str]]) -> list[tuple[int, int, str, str]]:
    """Overlapping detections become one span (their union), labelled by the most sensitive category."""
    spans.sort(key=lambda s: (s[0], -s[1]))
    merged: list[list[Any]] = []
    for start, end, kind, category in spans:
        if merged and start < merged[-1][1]:
            last = merged[-1]
            last[1] = max(last[1], end)
            if _priority(category) < _priority(last[3]):
                last[2], last[3] = kind, category
        else:
            merged.append([start, end, kind, category])
    return [(s, e, k, c) for s, e, k, c in merged]


def _priority(category: str) -> float:
    # a whole configured home prefix outranks the username span found inside it
    return 5.5 if category == HOME else CATEGORY_PRIORITY.get(category, 9)


def _deny_regex(words: Sequence[str]) -> re.Pattern[str] | None:
    """One case-insensitive alternation of the deny words, longest first, spaces matching any blank run."""
    words = sorted({w.strip() for w in words if w.strip()}, key=len, reverse=True)
    if not words:
        return None
    return re.compile("|".join(re.escape(w).replace(r"\ ", r"\s+") for w in words), re.IGNORECASE)


def _deny_spans(text: str, deny: re.Pattern[str]) -> list[tuple[int, int, str, str]]:
    """Whole-word occurrences of the deny words."""
    spans = []
    for m in deny.finditer(text):
        start, end = m.span()
        if (start and (text[start - 1].isalnum() or text[start - 1] == "_") and not escaped_break(text, start)) or (
                end < len(text) and (text[end].isalnum() or text[end] == "_")):
            continue
        spans.append((start, end, "deny_list", NAME))
    return spans


def _extra_rules(patterns: Iterable[Any]) -> list[Rule]:
    """User patterns: a regex (string or compiled) or (kind, regex); a group named `secret` narrows the span."""
    rules = []
    for i, item in enumerate(patterns):
        kind, pattern = item if isinstance(item, tuple) else (f"custom_{i + 1}", item)
        regex = pattern if isinstance(pattern, re.Pattern) else re.compile(pattern)
        group = ("secret",) if "secret" in regex.groupindex else (0,)
        rules.append(Rule(kind, SECRET, regex, group=group))
    return rules
