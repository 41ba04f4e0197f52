"""Secrets behind an encoding, for `Redactor`: percent-encoded text and base64.

Percent-encoding (`email=maria%40gmail.com`, `password=p%40ss%21`, a whole URL encoded in a `redirect=`
parameter) hides the characters the rules anchor on (`@`, `=`, `:`). Base64 hides everything: Kubernetes
Secret `data:` values, `Authorization: Basic`, `.dockerconfigjson`, docker and npm `auth` entries. In both
cases the encoded text is decoded, the decoded text is scanned with all of the redactor's checks, and what
they find is removed from the encoded form: for percent-encoding exactly the encoded characters of each
value found (`email=<EMAIL_1>`); for base64 the whole encoded run, since a base64 piece cannot be cut along
the decoded text, labelled by the most sensitive thing inside it (`base64_url_password`).
Base64 printed with no key to say what it is (a secret read back by `kubectl ... jsonpath`, `user:password`
piped to `base64`) is judged by its decoded text alone: a `user:password` pair (what Basic auth, docker and
npm `auth` encode) or one password-shaped word is a secret. Base64 that decodes to text holding nothing (a
certificate, a config file, a GraphQL node id `Repository:123`, a region) and base64 that is not text
(images, integrity hashes) are kept.

>>> percent_decode("a%40b.io%2Fx")
('a@b.io/x', [0, 1, 4, 5, 6, 7, 8, 11, 12])
"""

from __future__ import annotations

import binascii
import re
from base64 import b64decode
from collections.abc import Callable

from bashgym.factory.redact_rules import CATEGORY_PRIORITY, SECRET, Span

MAX_DEPTH = 3  # a URL inside a percent-encoded URL inside base64 is as deep as real data goes
MAX_B64 = 64 * 1024  # longer runs are files (images, archives), not credentials
MIN_B64 = 12  # base64 of "user:pass" is 12 characters

_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_RUN_STOP = frozenset(" \t\r\n\"'<>`\\")  # a percent-encoded run ends at these
_B64_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_MARKS = bytes(0x61 if chr(i) in _B64_CHARS else 0x20 for i in range(256))
_B64_SEED = b"a" * MIN_B64
_B64_TAIL = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_B64_BEFORE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-.")
_JSON_ESCAPES = frozenset("ntrbf")  # `\n` before a run in a JSON-escaped line is a line break, not base64
_PAIR_USER = re.compile(r"[A-Za-z0-9._@+-]{1,64}")
_NOT_IN_SECRET = frozenset(" \t\r\n{}[]\"',;<>`\\")  # JSON, prose, lists, markup: not one bare secret
_PW_SYMBOLS = frozenset("!#$%&*+=?@^~")

Find = Callable[[str, int], list[Span]]  # (decoded text, depth) -> spans in it


def percent_decode(run: str) -> tuple[str, list[int]]:
    """`run` with its ASCII `%XX` escapes decoded, and where each decoded character starts in `run` (one more
    entry at the end: len(run)), so a span of the decoded text maps back to the encoded characters."""
    out: list[str] = []
    starts: list[int] = []
    last = 0
    for m in _PERCENT.finditer(run):
        value = int(run[m.start() + 1:m.end()], 16)
        if value >= 0x80:  # part of a multi-byte character: left as written
            continue
        out.append(run[last:m.start()])
        starts.extend(range(last, m.start()))
        out.append(chr(value))
        starts.append(m.start())
        last = m.end()
    out.append(run[last:])
    starts.extend(range(last, len(run) + 1))
    return "".join(out), starts


def percent_spans(text: str, find: Find, depth: int) -> list[Span]:
    """What `find` sees in each percent-encoded run of `text`, as spans of the encoded characters."""
    spans: list[Span] = []
    m = _PERCENT.search(text)
    while m is not None:
        base = m.start()
        while base and text[base - 1] not in _RUN_STOP:
            base -= 1
        stop = m.end()
        while stop < len(text) and text[stop] not in _RUN_STOP:
            stop += 1
        decoded, starts = percent_decode(text[base:stop])
        for start, end, kind, category in find(decoded, depth + 1):
            spans.append((base + starts[start], base + starts[end], kind, category))
        m = _PERCENT.search(text, stop)
    return spans


def base64_text(run: str) -> str | None:
    """The text a base64 run encodes, or None when it is not base64 of printable text."""
    if len(run) % 4 or len(run) > MAX_B64:
        return None
    if run.islower() or run.isupper():  # base64 of text mixes cases; paths and words seldom do
        return None
    try:
        decoded = b64decode(run, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if len(decoded) < 6 or not all(c.isprintable() or c in "\n\r\t" for c in decoded):
        return None
    return decoded


def password_shaped(word: str, min_len: int) -> bool:
    """A word as people and generators make passwords: letters with digits or symbols, mixed case or a symbol.

    >>> password_shaped("Falcon123!abcde", 8), password_shaped("eu-west-1", 8), password_shaped("1234567", 4)
    (True, False, False)
    """
    if len(word) < min_len or not any(c.isalpha() for c in word):
        return False
    symbol = any(c in _PW_SYMBOLS for c in word)
    if not (symbol or any(c.isdigit() for c in word)):
        return False
    return symbol or (any(c.isupper() for c in word) and any(c.islower() for c in word))


def bare_secret(decoded: str) -> str | None:
    """The kind of secret base64 `decoded` text is by itself (`basic_auth` for `user:password`, `password`
    for one password-shaped word), or None.

    >>> bare_secret("deploy:Falcon88!xyz"), bare_secret("Qw3rty!9xZ"), bare_secret("Repository:123456")
    ('basic_auth', 'password', None)
    """
    if len(decoded) > 256 or "://" in decoded or not _NOT_IN_SECRET.isdisjoint(decoded):
        return None
    user, colon, secret = decoded.partition(":")
    if colon:
        return "basic_auth" if _PAIR_USER.fullmatch(user) and password_shaped(secret, 4) else None
    return "password" if password_shaped(decoded, 8) else None


def base64_spans(text: str, find: Find, depth: int) -> list[Span]:
    """Every base64 run of `text` whose decoded text holds something `find` removes, or is a bare secret
    (`bare_secret`), whole, as one span."""
    spans: list[Span] = []
    marks = text.encode("ascii", "replace").translate(_B64_MARKS)  # one byte a character, found at C speed
    start = marks.find(_B64_SEED)
    while start != -1:
        end = _B64_TAIL.match(text, start).end()
        if start > 1 and text[start - 1] == "\\" and text[start] in _JSON_ESCAPES:
            start += 1  # `\nc2stc...` in a JSON-escaped line: the run starts after the escape
        elif start and text[start - 1] in _B64_BEFORE:
            start = -1
        decoded = base64_text(text[start:end]) if start != -1 else None
        if decoded is not None:
            inner = find(decoded, depth + 1)
            if inner:
                _, _, kind, category = min(inner, key=lambda s: CATEGORY_PRIORITY.get(s[3], 9))
                spans.append((start, end, "base64_" + kind.removeprefix("base64_"), category))
            elif kind := bare_secret(decoded):
                spans.append((start, end, "base64_" + kind, SECRET))
        start = marks.find(_B64_SEED, end)
    return spans


def encoded_spans(text: str, find: Find, depth: int) -> list[Span]:
    """Spans of values hidden by percent-encoding or base64 in `text` (nothing past MAX_DEPTH)."""
    if depth >= MAX_DEPTH:
        return []
    spans = percent_spans(text, find, depth) if "%" in text else []
    spans.extend(base64_spans(text, find, depth))
    return spans
