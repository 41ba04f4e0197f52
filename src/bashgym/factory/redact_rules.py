"""The detection rules behind `Redactor`: one compiled regex per kind of secret or personal data.

Each rule names the span to remove (a regex group), literal *triggers* checked with a cheap `in` before the
regex runs (most text has none, so most rules never run), and an optional validator that rejects
look-alikes: placeholders (`YOUR_API_KEY`, `${TOKEN}`), commit ids, version strings, private IP ranges.
No entropy guessing: a value is removed because of its shape (a provider prefix) or its context (a key named
`password`, an `Authorization:` header, the password slot of a URL), never because it merely looks random.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

# Placeholder categories: each maps a value to a numbered placeholder, except "user" which is always <USER>.
SECRET, EMAIL, PHONE, IP, USER, NAME, HOST = "secret", "email", "phone", "ip", "user", "name", "host"
CARD = "card"
CATEGORY_PRIORITY = {SECRET: 0, CARD: 0.5, EMAIL: 1, PHONE: 2, IP: 3, NAME: 4, HOST: 5, USER: 6}

Validator = Callable[[str, "re.Match[str]", str], bool]  # (value, match, original text)
Span = tuple[int, int, str, str]  # (start, end, kind, category)


@dataclass(frozen=True)
class Rule:
    """One detector: `regex` finds candidates, `group` (or the first matching of several) is removed.

    Speed rules (the redactor runs over gigabytes): a regex never starts with an assertion (`\\b`, a
    lookbehind) or a case-insensitive flag, both of which stop `re` from jumping to its first literal.
    Instead `not_after` lists characters that must not precede the match (checked in Python), `back`
    extends the match start backwards over those characters (so `@domain` grows into `local@domain`),
    and `ci` rules are written in lower case and run on the lowered text.
    """

    kind: str
    category: str
    regex: re.Pattern[str]
    group: tuple[str | int, ...] = (0,)
    triggers: tuple[str, ...] = ()  # any of these must occur in the text (lowercased when `ci`)
    ci: bool = False
    validate: Validator | None = None
    not_after: str = ""
    back: str = ""
    back_max: int = 64
    back_span: bool = False  # the removed span is only the part found by `back` (a user before `@host`)
    # every match lies on a line holding a run of >= TOKEN_RUN token characters (and never spans lines), so
    # the rule runs only on those lines (see `token_lines`), not on the whole text
    token_run: bool = False
    # matches never span lines and always contain a trigger: the regex runs only on lines holding a trigger
    lines: bool = False
    # trigger -> ((characters allowed before it, "" = any), its offsets from the match start), ...: the regex
    # is tried only at those starts (exactly what finditer finds, since every match holds a trigger); for
    # regexes that open with an alternation, which `re` cannot jump to
    starts: dict[str, tuple[tuple[str, tuple[int, ...]], ...]] | None = None

    def span(self, match: re.Match[str]) -> tuple[int, int] | None:
        for g in self.group:
            if match.group(g) is not None:
                return match.span(g)
        return None


def escaped_break(text: str, i: int) -> bool:
    """`text[i]` follows a JSON/C escape (`\\n`, `\\t`, `\\r`): a line break in an escaped transcript line,
    not a letter glued to the value."""
    return i >= 2 and text[i - 1] in "ntr" and text[i - 2] == "\\" and (i < 3 or text[i - 3] != "\\")


# --- look-alike filters ----------------------------------------------------------------------------------

_PLACEHOLDER_WORDS = (
    "your_", "your-", "yourapi", "yourtoken", "yoursecret", "yourpass", "xxxx", "****", "…", "...",
    "example", "placeholder", "redacted", "changeme", "change_me", "change-me", "replace_me", "replace-me",
    "replaceme", "insert_", "insert-", "enter_", "enter-your", "<", ">", "${", "{{", "$(", "%(", "secret_here",
    "key_here", "token_here", "-here", "_here", "dummy", "foobar", "lorem",
)
_PLACEHOLDER_VALUES = frozenset(
    """none null nil true false yes no on off undefined string str int integer number bool boolean any
    object bytes optional required empty hidden masked secret secrets password passwd pass pwd token tokens
    key apikey api_key auth credentials value values test env default self this prompt input getpass
    na n/a tbd todo unset bearer basic digest""".split()
)
_TYPE_LIKE = re.compile(r"^(?:[A-Za-z_][\w]*\.)*[A-Za-z_]\w*(?:\(|\[|$)")
_ENV_REF = re.compile(r"^(?:\$|%[A-Za-z_]\w*%$|env[:(]|process\.env|os\.environ|os\.getenv|secrets\.|vault:|ENC\[|!vault|!!)", re.I)


def is_placeholder(value: str) -> bool:
    """True for values that stand in for a secret rather than being one.

    >>> is_placeholder("YOUR_API_KEY"), is_placeholder("${DB_PASSWORD}"), is_placeholder("hunter2!x")
    (True, True, False)
    """
    v = value.strip().strip("'\"`")
    if len(v) < 3:
        return True
    low = v.lower()
    if low in _PLACEHOLDER_VALUES or _ENV_REF.match(v):
        return True
    if any(w in low for w in _PLACEHOLDER_WORDS):
        return True
    core = re.sub(r"^[a-z]{2,12}[-_](?:[a-z]{2,8}[-_])?", "", low)  # sk-proj-..., ghp_..., sk_live_...
    return (len(core) >= 8 and len(set(core)) <= 2) or len(set(low)) <= 2


def _not_placeholder(value: str, _m: re.Match[str], _t: str) -> bool:
    return not is_placeholder(value)


def _mixed_token(value: str, _m: re.Match[str], _t: str) -> bool:
    """Provider tokens with a loose tail: demand letters and digits so `sk-some-long-kebab-name` stays."""
    tail = value.split("-", 1)[-1] if value.startswith("sk-") else value
    return any(c.isdigit() for c in tail) and any(c.isalpha() for c in tail) and not is_placeholder(value)


def _hf_token(value: str, _m: re.Match[str], _t: str) -> bool:
    """Hugging Face tokens are `hf_` + letters (34 today, any length before): random case, or letters and
    digits; a CamelCase name (`hf_AutoModelForCausalLM`) has its capitals one at a time."""
    tail = value.split("_")[-1]
    if is_placeholder(value):
        return False
    if any(c.isdigit() for c in tail):
        return any(c.isalpha() for c in tail)
    upper = sum(c.isupper() for c in tail) / len(tail)
    pairs = sum(a.isupper() and b.isupper() for a, b in zip(tail, tail[1:], strict=False))
    return 0.2 <= upper <= 0.8 and pairs >= 2  # CamelCase has capitals one at a time


def _aws_secret(value: str, _m: re.Match[str], _t: str) -> bool:
    """A 40-char AWS secret has upper, lower and digits; a commit id (hex) or a word never does."""
    return (
        len(value) == 40 and any(c.isupper() for c in value) and any(c.islower() for c in value)
        and any(c.isdigit() for c in value) and not is_placeholder(value)
    )


# --- secrets by shape (provider prefixes) ----------------------------------------------------------------

_TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"  # a token is not glued to these
_WORD_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"
_E = r"(?![A-Za-z0-9_-])"
TOKEN_RUN = 20  # provider tokens hold a run of at least this many _TOKEN_CHARS; ordinary lines rarely do
_RUN_MARKS = bytes(0x61 if chr(i) in _TOKEN_CHARS else 0x20 for i in range(256))
_RUN = b"a" * TOKEN_RUN


def token_lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of every line holding a run of >= TOKEN_RUN token characters, found at C speed.

    Non-ASCII characters encode as one `?` each, so byte offsets in the marks are character offsets.

    >>> token_lines("ls\nkey ghp_" + "a1" * 12 + " x\ndone")
    [(3, 35)]
    """
    marks = text.encode("ascii", "replace").translate(_RUN_MARKS)
    lines: list[tuple[int, int]] = []
    i = marks.find(_RUN)
    while i != -1:
        end = text.find("\n", i)
        end = len(text) if end == -1 else end
        lines.append((text.rfind("\n", 0, i) + 1, end))
        i = marks.find(_RUN, end)
    return lines


def _tok(kind: str, pattern: str, triggers: tuple[str, ...], validate: Validator | None = _not_placeholder,
         flags: int = 0, run: bool = True) -> Rule:
    """A provider token; `run=False` when a match may hold no TOKEN_RUN-long run of `_TOKEN_CHARS` (then it
    runs on the lines holding its trigger, which is part of every match)."""
    return Rule(kind, SECRET, re.compile(pattern + _E, flags), triggers=triggers, validate=validate,
                not_after=_TOKEN_CHARS, token_run=run, lines=not run)


PROVIDER_RULES: tuple[Rule, ...] = (
    _tok("anthropic_key", r"sk-ant-(?:api|admin|sid|oat|ort)\d{2}-[A-Za-z0-9_-]{20,}", ("sk-ant-",)),
    _tok("openai_key", r"sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,}", ("sk-",), _mixed_token),
    _tok("openai_key", r"sk-(?:or-v1-)?[A-Za-z0-9]{20,}(?:T3BlbkFJ[A-Za-z0-9]{20,})?", ("sk-",), _mixed_token),
    _tok("github_token", r"(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,255}", ("gh",)),
    _tok("github_token", r"github_pat_[A-Za-z0-9_]{40,255}", ("github_pat_",)),
    _tok("gitlab_token", r"(?:glpat|gldt|glrt|glptt|glcbt|glimt|glsoat|glffct|gloas)-[A-Za-z0-9_-]{20,64}", ("gl",)),
    _tok("slack_token", r"xox[abposre]-[A-Za-z0-9-]{10,250}", ("xox",), run=False),
    _tok("slack_token", r"xapp-\d-[A-Za-z0-9-]{10,250}", ("xapp-",), run=False),
    _tok("slack_webhook", r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]{20,}",
         ("hooks.slack.com",), run=False),
    _tok("discord_webhook", r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_-]{20,}",
         ("/api/webhooks/",)),
    _tok("stripe_key", r"(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,247}", ("k_live_", "k_test_")),
    _tok("stripe_key", r"whsec_[A-Za-z0-9]{24,}", ("whsec_",)),
    _tok("google_api_key", r"AIza[0-9A-Za-z_-]{35}", ("AIza",)),
    _tok("google_oauth", r"GOCSPX-[A-Za-z0-9_-]{20,}", ("GOCSPX-",)),
    _tok("google_oauth", r"ya29\.[0-9A-Za-z_-]{20,}", ("ya29.",)),
    _tok("google_oauth", r"1//0[0-9A-Za-z_-]{30,}", ("1//0",)),
    _tok("aws_access_key", r"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}", ("AKIA", "ASIA", "ABIA", "ACCA", "A3T")),
    Rule("azure_client_secret", SECRET, re.compile(r"Q~[A-Za-z0-9_~.-]{31,34}" + _E), triggers=("Q~",),
         back=_TOKEN_CHARS + "~.", back_max=4, not_after=_TOKEN_CHARS + "~.",
         validate=lambda v, m, t: v.index("Q~") == 4 and v[3].isdigit() and not is_placeholder(v), lines=True),
    _tok("huggingface_token", r"(?:hf_|api_org_)[A-Za-z0-9]{17,}", ("hf_", "api_org_"), _hf_token),
    _tok("npm_token", r"npm_[A-Za-z0-9]{36}", ("npm_",)),
    _tok("pypi_token", r"pypi-AgE[A-Za-z0-9_-]{50,}", ("pypi-",)),
    _tok("twilio_key", r"(?:AC|SK)[0-9a-f]{32}", ("AC", "SK")),
    _tok("sendgrid_key", r"SG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{30,64}", ("SG.",)),
    _tok("mailgun_key", r"key-[0-9a-f]{32}", ("key-",)),
    Rule("mailchimp_key", SECRET, re.compile(r"-us\d{1,2}" + _E), triggers=("-us",), back="0123456789abcdef",
         back_max=32, not_after=_TOKEN_CHARS, validate=lambda v, m, t: v.index("-us") == 32, token_run=True),
    Rule("telegram_token", SECRET, re.compile(r":AA[A-Za-z0-9_-]{33}" + _E), triggers=(":AA",),
         back="0123456789", back_max=10, not_after=_TOKEN_CHARS,
         validate=lambda v, m, t: 8 <= v.index(":") <= 10 and not is_placeholder(v), token_run=True),
    _tok("discord_token", r"[MNO][A-Za-z0-9_-]{23,25}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,38}", (".",), _mixed_token),
    _tok("square_token", r"(?:sq0csp|sq0atp|EAAA)[-A-Za-z0-9_]{22,60}", ("sq0", "EAAA")),
    _tok("shopify_token", r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}", ("shp",)),
    _tok("digitalocean_token", r"do[por]_v1_[a-f0-9]{64}", ("_v1_",)),
    _tok("docker_token", r"dckr_pat_[A-Za-z0-9_-]{20,}", ("dckr_pat_",)),
    _tok("databricks_token", r"dapi[a-f0-9]{32}(?:-\d)?", ("dapi",)),
    _tok("linear_key", r"lin_(?:api|oauth)_[A-Za-z0-9]{32,}", ("lin_",)),
    _tok("notion_token", r"secret_[A-Za-z0-9]{43}", ("secret_",)),
    _tok("notion_token", r"ntn_[A-Za-z0-9]{40,}", ("ntn_",)),
    _tok("atlassian_token", r"ATATT3[A-Za-z0-9_=-]{50,}", ("ATATT3",), run=False),
    _tok("grafana_token", r"(?:glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|glc_[A-Za-z0-9+/]{32,}={0,2})", ("glsa_", "glc_"), run=False),
    _tok("vault_token", r"hv[sbr]\.[A-Za-z0-9_-]{24,}", ("hvs.", "hvb.", "hvr.")),
    _tok("age_key", r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}", ("AGE-SECRET-KEY-",)),
    _tok("replicate_token", r"r8_[A-Za-z0-9]{37}", ("r8_",), _mixed_token),
    _tok("groq_key", r"gsk_[A-Za-z0-9]{48,}", ("gsk_",), _mixed_token),
    _tok("xai_key", r"xai-[A-Za-z0-9]{60,}", ("xai-",), _mixed_token),
    _tok("perplexity_key", r"pplx-[A-Za-z0-9]{40,}", ("pplx-",), _mixed_token),
    _tok("langsmith_key", r"lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}", ("lsv2_",)),
    _tok("pulumi_token", r"pul-[a-f0-9]{40}", ("pul-",)),
    Rule("terraform_token", SECRET, re.compile(r"\.atlasv1\.[A-Za-z0-9_=-]{60,}"), triggers=(".atlasv1.",),
         back=_TOKEN_CHARS[:-2], back_max=14, validate=lambda v, m, t: v.index(".") == 14, lines=True),
    _tok("doppler_token", r"dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,}", ("dp.",)),
    _tok("jwt", r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*", ("eyJ",), run=False),
)

# --- secrets by context ----------------------------------------------------------------------------------

_PLACEHOLDER_TOKEN = re.compile(r"<[A-Z]+_(?:\d+|#[0-9a-f]+)>")
_PRIVATE_KEY = Rule(
    "private_key", SECRET,
    re.compile(
        r"-----BEGIN (?P<label>[A-Z0-9 ]*?)PRIVATE KEY(?: BLOCK)?-----(?:\s|\\[nr])*(?P<body>.*?)(?:\s|\\[nr])*"
        r"(?=-----END [A-Z0-9 ]*?PRIVATE KEY(?: BLOCK)?-----|\n[ \t]*\n|\Z)",
        re.S,
    ),
    group=("body",), triggers=("PRIVATE KEY",),
    # a body already replaced (`<SECRET_1>`) is left alone, so redacted text scans clean (dataset push)
    validate=lambda v, m, t: not _PLACEHOLDER_TOKEN.fullmatch(v.strip()),
)

_SECRET_WORD = (
    r"(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key(?:[_-]?id)?|private[_-]?key|"
    r"secret[_-]?key|account[_-]?key|master[_-]?key|signing[_-]?key|encryption[_-]?key|client[_-]?secret|"
    r"credentials?|auth|authorization|signature|sas|conn(?:ection)?[_-]?str(?:ing)?|dsn|webhook[_-]?url)"
)
# KEY = value / KEY: value / "key": "value" / key => 'value'; the key must END with a secret word. Anchored on
# the secret word (run on the lowered text); the rest of the key name is read backwards by the validator.
_ASSIGNMENT = re.compile(
    r"(?P<key>" + _SECRET_WORD + r")(?![a-z0-9])(?P<kq>\\?[\"']?)"
    r"(?P<sep>[ \t]*(?::=|=>|=|:)[ \t]*)"
    r"(?:\\\"(?P<edq>[^\"\\\n]{3,})\\\"|\"(?P<dq>(?:[^\"\\\n]|\\.){3,})\"|'(?P<sq>[^'\n]{3,})'|(?P<bare>[^\s\"',;&|)}\]\\]{2,}[^\s\"',;&|)}\].:!?\\]))"
)
_TYPE_NAMES = frozenset("string str int number bool boolean any bytes optional secretstr text varchar char".split())
_KEY_CHARS = frozenset(_WORD_CHARS + ".-")


def _assignment_ok(value: str, m: re.Match[str], text: str) -> bool:
    if is_placeholder(value):
        return False
    start = m.start("key")
    while start > 0 and text[start - 1] in _KEY_CHARS:
        start -= 1
    key = text[start:m.end("key")]
    low = value.lower()
    word = m.group("key").lower()
    if low == key.lower() or low.endswith(("." + key.lower(), "_" + word)) or low in _TYPE_NAMES:
        return False  # `token=hf_token`, `password=self.password`: a name, not a literal
    if word == "signature" and '"type":"thinking"' in text:
        return False  # the model provider's signature of a thinking block, not a credential
    if m.group("bare") is None:  # a quoted string literal: a secret unless it reads like prose
        return value.count(" ") < 2 and not (value.count(" ") == 1 and value.replace(" ", "").isalpha())
    if "(" in value or value.startswith(("[", "{", "-", "#", "/", "~", ".")) or value.endswith(":"):
        return False  # expressions, paths and flags, not literals
    sep = m.group("sep")
    if ":" in sep and "=" not in sep and not key.isupper():
        # `token: value` in prose, logs or type annotations: only mixed-looking values are secrets
        has_digit = any(c.isdigit() for c in value)
        mixed = any(c.isupper() for c in value) and any(c.islower() for c in value)
        special = any(not c.isalnum() for c in value)
        return has_digit or mixed or special
    if " " in sep and re.fullmatch(r"[A-Za-z_][A-Za-z_.]*", value):
        return False  # `password = other_name` is code, not a literal
    return True


_ASSIGNMENT_RULE = Rule(
    "secret_assignment", SECRET, _ASSIGNMENT, group=("edq", "dq", "sq", "bare"),
    triggers=("pass", "pwd", "secret", "token", "key", "auth", "credential", "signature", "sas", "conn", "dsn",
              "webhook"),
    ci=True, validate=_assignment_ok,
    # where each trigger can sit in a _SECRET_WORD, by the character before it ("" = any): "key" ends
    # api_key/apikey, access_key, private_key, ..., encryption_key; "secret" also ends client_secret
    starts={"pass": (("", (0,)),), "pwd": (("", (0,)),), "token": (("", (0,)),), "auth": (("", (0,)),),
            "secret": (("", (0,)), ("t", (6,)), ("_-", (7,))),
            "key": (("_-", (4, 7, 8, 11)), ("i", (3,)), ("s", (6,)), ("e", (7,)), ("t", (6, 7)), ("r", (6,)),
                    ("g", (7,)), ("n", (10,))),
            "credential": (("", (0,)),), "signature": (("", (0,)),), "sas": (("", (0,)),),
            "conn": (("", (0,)),), "dsn": (("", (0,)),), "webhook": (("", (0,)),)},
)


def _line_start_only(value: str, m: re.Match[str], text: str) -> bool:
    """The match is the first thing on its line (`Author: ...` in git output, not inside prose)."""
    line_start = text.rfind("\n", 0, m.start()) + 1
    return not text[line_start:m.start()].strip() and _person_ok(value, m, text)


_CLI_VALUE = r"(?:\"(?P<dq>[^\"\n]+)\"|'(?P<sq>[^'\n]+)'|(?P<bare>[^\s\"'\\-][^\s\"'\\]*))"

CONTEXT_RULES: tuple[Rule, ...] = (
    _PRIVATE_KEY,
    # scheme://user:password@host — the password slot only, so the URL stays readable
    Rule("url_password", SECRET, re.compile(r"://(?P<u>[^\s:/@'\"<>]*):(?P<v>[^\s'\"/<>]+)@(?=[A-Za-z0-9\[])"),
         group=("v",), triggers=("://",), validate=_not_placeholder, lines=True),
    # https://<token>@host (Sentry DSNs, git remotes with a bare token)
    Rule("url_token", SECRET, re.compile(r"://(?P<v>[A-Za-z0-9_-]{20,})@(?=[A-Za-z0-9])"),
         group=("v",), triggers=("://",), validate=_mixed_token, lines=True),
    Rule("url_param_secret", SECRET,
         re.compile(r"[?&;](?:password|passwd|pwd|pass|token|access_token|id_token|refresh_token|auth|api_?key|"
                    r"apikey|secret|client_secret|sig|signature|session|sessionid|private_token|x-amz-signature|"
                    r"x-amz-security-token|code)=(?P<v>[^&\s'\"#<>]{4,})"),
         group=("v",), triggers=("=",), ci=True, validate=_not_placeholder),
    Rule("auth_header", SECRET,
         re.compile(r"authorization[\"']?\s*[:=]\s*[\"']?(?:bearer|basic|token|digest|bot|"
                    r"apikey|sso-key|key|otoken)\s+(?P<v>[a-z0-9._~+/:=-]{8,})"),
         group=("v",), triggers=("authorization",), ci=True, validate=_not_placeholder, not_after=_WORD_CHARS),
    Rule("bearer_token", SECRET, re.compile(r"bearer\s+(?P<v>[a-z0-9._~+/-]{16,}=*)"),
         group=("v",), triggers=("bearer",), ci=True, validate=_not_placeholder, not_after=_WORD_CHARS),
    Rule("api_key_header", SECRET,
         re.compile(r"(?:x-api-key|api-key|x-auth-token|x-access-token|private-token|x-goog-api-key|"
                    r"x-functions-key|ocp-apim-subscription-key|x-vault-token|x-shopify-access-token|"
                    r"x-figma-token|x-auth-key)[\"']?\s*[:=]\s*[\"']?(?P<v>[a-z0-9._~+/=-]{8,})"),
         group=("v",), triggers=("-key", "-token"), ci=True, validate=_not_placeholder),
    Rule("cli_password", SECRET,
         re.compile(r"--?(?:password|passwd|pass|token|api-key|apikey|secret|client-secret|auth-token|"
                    r"access-token|secret-key|access-key|key-secret)(?:=|[ \t]+)" + _CLI_VALUE),
         group=("dq", "sq", "bare"), triggers=("-pass", "-token", "-api", "-secret", "-access", "-key", "-client",
                                               "-auth"),
         ci=True, validate=_not_placeholder, not_after=_WORD_CHARS + "-", lines=True),
    Rule("cli_password", SECRET,
         re.compile(r"(?:mysql|mysqldump|mysqladmin|mariadb)\b[^\n|;&]*?\s-p(?P<v>[^\s'\"]+)"),
         group=("v",), triggers=("mysql", "mariadb"), validate=_not_placeholder),
    Rule("cli_password", SECRET,
         re.compile(r"(?:sshpass\s+-p|redis-cli\b[^\n|;&]*?\s-a|docker\s+login\b[^\n|;&]*?\s-p)\s*(?P<v>[^\s'\"]+)"),
         group=("v",), triggers=("sshpass", "redis-cli", "docker"), validate=_not_placeholder),
    Rule("basic_auth_cli", SECRET,
         re.compile(r"-(?:u|-user|-basic-auth)[\s=]+[\"']?(?P<u>[^:\s'\"]+):(?P<v>[^\s'\"]+)"),
         group=("v",), triggers=("-u", "--user", "--basic-auth"), validate=_not_placeholder,
         not_after=_WORD_CHARS + "-"),
    Rule("netrc_password", SECRET,
         re.compile(r"machine\s+\S+\s+login\s+\S+\s+password\s+(?P<v>\S+)"),
         group=("v",), triggers=("machine",), validate=_not_placeholder),
    Rule("session_cookie", SECRET,
         re.compile(r"(?:sess|sid|token|auth|jwt|csrf|xsrf|remember)[\w.-]*=(?P<v>[^;\s'\"]{16,})"),
         group=("v",), triggers=("cookie",), ci=True, validate=_mixed_token),
    Rule("azure_connection", SECRET,
         re.compile(r"(?:AccountKey|SharedAccessKey|SharedAccessSignature)=(?P<v>[A-Za-z0-9+/%=&:._-]{20,}?)(?=;|\s|[\"']|$)"),
         group=("v",), triggers=("Shared", "AccountKey"), validate=_not_placeholder, lines=True),
    # a 40-char AWS secret key next to AWS context; runs of other lengths (base64 blobs, hashes) are skipped
    Rule("aws_secret_key", SECRET, re.compile(r"[A-Za-z0-9/+=]{40,}"),
         triggers=("AKIA", "ASIA", "aws", "AWS", "SecretAccessKey"), validate=_aws_secret),
    _ASSIGNMENT_RULE,
    # ~/.pgpass: hostname:port:database:username:password, one a line
    Rule("pgpass_password", SECRET,
         re.compile(r"(?:^|\\n)[^:\s#\\]+:(?:\d{1,5}|\*):[^:\s\\]+:[^:\s\\]+:(?P<v>[^\s\\]+)(?=$|\\[nr])", re.M),
         group=("v",), triggers=("pgpass",), validate=_not_placeholder),
)

# --- personal data ---------------------------------------------------------------------------------------

_KEEP_EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "anthropic.com", "github.com", "localhost")
_KEEP_EMAIL_SUFFIXES = (".example", ".test", ".invalid", ".localhost")
_KEEP_EMAIL_LOCALS = frozenset("git noreply no-reply donotreply do-not-reply mailer-daemon postmaster".split())
_FILE_TLDS = frozenset(
    """png jpg jpeg gif svg webp ico bmp js mjs cjs ts tsx jsx py pyc rb go rs java kt json yaml yml toml md txt
    css scss html htm lock sh zip gz tgz tar whl so dll exe map log csv ini cfg conf xml pdf""".split()
)


def _email_ok(value: str, m: re.Match[str], text: str) -> bool:
    local, _, domain = value.rpartition("@")
    low = domain.lower()
    if domain.rsplit(".", 1)[-1].lower() in _FILE_TLDS:
        return False
    if low in ("users.noreply.github.com",):
        return True  # 1234+alice@users.noreply.github.com names the user
    if local.lower() in _KEEP_EMAIL_LOCALS or low in _KEEP_EMAIL_DOMAINS:
        return False
    if low.endswith(_KEEP_EMAIL_SUFFIXES) or any(low.endswith("." + d) for d in _KEEP_EMAIL_DOMAINS[:3]):
        return False
    # user:pass@host inside a URL is a password slot, handled by url_password
    start = m.start() - len(local)
    line_start = max(text.rfind(c, max(0, start - 200), start) for c in " \n\t\"'") + 1
    return "://" not in text[line_start:start]


# Well-known public resolvers and addresses are not personal data.
_PUBLIC_KEEP = frozenset({"8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "149.112.112.112", "208.67.222.222"})


def is_personal_ip(value: str) -> bool:
    """Public unicast IPv4 addresses identify a machine or person; loopback, private (RFC 1918), link-local,
    CGNAT, documentation (TEST-NET), multicast, netmasks and public resolvers do not and are kept.

    >>> is_personal_ip("127.0.0.1"), is_personal_ip("192.168.1.20"), is_personal_ip("54.213.7.19")
    (False, False, True)
    """
    try:
        ip = ipaddress.IPv4Address(value)
    except ValueError:
        return False
    if value in _PUBLIC_KEEP or value.startswith("255.") or value.endswith(".0") and value.count(".0") >= 2:
        return False
    return not (ip.is_private or ip.is_loopback or ip.is_unspecified or ip.is_multicast or ip.is_reserved
                or ip.is_link_local or ip in ipaddress.IPv4Network("100.64.0.0/10"))


_VERSION_WORDS = re.compile(r"(?:version|ver|release|build|rev|v)[\s:=]*$", re.I)


def _after_version_word(text: str, start: int) -> bool:
    """`version 1.2.3.4` is a version number, not an address."""
    return bool(_VERSION_WORDS.search(text[max(0, start - 12):start]))


_GENERIC_USERS = frozenset(
    """shared public default all\\ users user username you yourname your_user yourusername me name runner
    <user> $user ${user} %username% * ~ ... xxx""".split()
)


def _home_user_ok(value: str, _m: re.Match[str], _t: str = "") -> bool:
    return value.lower() not in _GENERIC_USERS and not value.startswith(("$", "<", "%", "{"))


_GIT_BOTS = ("claude", "bot", "github", "noreply", "dependabot", "renovate", "copilot", "<name>")


def _person_ok(value: str, _m: re.Match[str], _t: str) -> bool:
    low = value.lower()
    return not any(b in low for b in _GIT_BOTS) and not is_placeholder(value)


def _email_local(value: str, m: re.Match[str], text: str) -> bool:
    return "@" in value and value[0].isalnum() and _email_ok(value, m, text)


def _ip_ok(value: str, m: re.Match[str], text: str) -> bool:
    if not _IPV4.fullmatch(value) or not is_personal_ip(value):
        return False
    start = text.rfind(value, max(0, m.start() - 3), m.end())
    before = text[max(0, start - 2):start]
    return not before.endswith(("==", "~=", ">=", "<=")) and not _after_version_word(text, start)


_IPV4 = re.compile(r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)")
_PHONE_DIGITS = range(8, 16)
SIGNED_DECIMAL = re.compile(r"(?:\+|00)\d{6,}\.\d")  # `+20251125.1432`: a stamp or an offset, not a phone


def _phone_ok(value: str, _m: re.Match[str], _t: str) -> bool:
    return sum(c.isdigit() for c in value) in _PHONE_DIGITS and not SIGNED_DECIMAL.match(value)


def _prompt_user_ok(value: str, m: re.Match[str], text: str) -> bool:
    start = m.start() - len(value)
    return (bool(value) and (start == 0 or text[start - 1] in "\n[") and _home_user_ok(value, m)
            and value not in ("root", "git"))


PII_RULES: tuple[Rule, ...] = (
    # anchored on "@domain"; the local part is read backwards
    Rule("email", EMAIL,
         re.compile(r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"),
         triggers=("@",), validate=_email_local, back=_WORD_CHARS + ".%+-", back_max=64),
    Rule("phone", PHONE,
         re.compile(r"\+\d{1,3}[ .-]?\(?\d{1,4}\)?(?:[ .-]?\d{2,4}){2,4}(?![\w/-]|\.\d)"),
         triggers=("+",), validate=_phone_ok, not_after=_WORD_CHARS + "+./=-"),
    Rule("phone", PHONE,
         re.compile(r"\(\d{3}\)[ ]?\d{3}[.-]\d{4}(?![\w/-]|\.\d)"),
         triggers=("(",), validate=_phone_ok, not_after=_WORD_CHARS + "./=-"),
    Rule("phone", PHONE,
         re.compile(r"[.-](?<=\d\d\d[.-])\d{3}[.-]\d{4}(?![\w/-]|\.\d)"),
         validate=_phone_ok, back="0123456789", back_max=3, not_after=_WORD_CHARS + "+./=-"),
    Rule("ip_address", IP,
         re.compile(r"\.(?<=\d\.)\d{1,3}\.\d{1,3}\.\d{1,3}(?![\w-]|\.\d)"),
         validate=_ip_ok, back="0123456789", back_max=3, not_after=_WORD_CHARS + ".:-"),
    Rule("home_path", USER,
         re.compile(r"(?:/home/|/Users/|/var/home/|/mnt/[a-z]/Users/)(?P<user>[^/\\\s\"':*?<>|;,()\[\]{}]+)"),
         group=("user",), triggers=("/home/", "/Users/"), validate=_home_user_ok, not_after=_WORD_CHARS + ".-",
         lines=True),
    Rule("home_path", USER,
         re.compile(r":(?<=[A-Za-z]:)(?:\\\\|\\|/)(?i:users|documents and settings)(?:\\\\|\\|/)"
                    r"(?P<user>[^/\\\s\"':*?<>|;,()\[\]{}]+)"),
         group=("user",), triggers=("Users", "users", "USERS", "Documents and Settings"), validate=_home_user_ok,
         lines=True),
    Rule("git_identity", NAME,
         re.compile(r"(?:author|commit|co-authored-by|signed-off-by|reviewed-by|acked-by|tested-by|"
                    r"reported-by|committer)[ \t]*:[ \t]+(?P<v>[^<>\n@:]{2,60}?)[ \t]+<"),
         group=("v",), triggers=("author", "-by", "commit"), ci=True, validate=_line_start_only, lines=True),
    Rule("git_identity", NAME,
         re.compile(r"user\.name(?:[ \t]*=[ \t]*|[ \t]+)[\"']?(?P<v>[^\"'\n]{2,60}?)[\"']?[ \t]*$", re.M),
         group=("v",), triggers=("user.name",), validate=_person_ok, lines=True),
    Rule("ssh_user", USER,
         re.compile(r"(?:ssh|scp|sftp|rsync|mosh|ssh-copy-id)\b[^\n|;&]*?[\s'\"](?P<user>[a-z_][a-z0-9_.-]{1,31})@"
                    r"(?=[A-Za-z0-9<\[])"),
         group=("user",), triggers=("ssh", "scp", "sftp", "rsync", "mosh"), not_after=_WORD_CHARS,
         validate=lambda v, m, t: _home_user_ok(v, m) and v not in ("root", "git", "ubuntu", "ec2-user", "admin")),
    # user@host:~/dir$ prompts: anchored on "@host", the user is read backwards
    Rule("shell_prompt", USER,
         re.compile(r"@(?P<host>[A-Za-z0-9][A-Za-z0-9-]{0,62})(?=:[~/]|[ \t][~/\w.-]*\]?[$#%])"),
         triggers=("@",), back="abcdefghijklmnopqrstuvwxyz0123456789_.-", back_max=32, back_span=True,
         validate=_prompt_user_ok),
)


def user_name_rule(names: list[str]) -> Rule | None:
    """A rule for the user's own names and usernames, whole words, any case (longest first)."""
    names = sorted({n.strip().lower() for n in names if len(n.strip()) >= 3}, key=len, reverse=True)
    if not names:
        return None
    alternation = "|".join(re.escape(n).replace(r"\ ", r"[ \t]+") for n in names)
    return Rule("user_name", USER, re.compile(rf"(?:{alternation})(?![a-z0-9])"),
                triggers=tuple(n.split()[0] for n in names), ci=True, not_after=_WORD_CHARS[:-1], lines=True)


def hostname_rule(hosts: list[str]) -> Rule | None:
    hosts = sorted({h.strip().lower() for h in hosts if len(h.strip()) >= 3}, key=len, reverse=True)
    if not hosts:
        return None
    alternation = "|".join(re.escape(h) for h in hosts)
    return Rule("hostname", HOST, re.compile(rf"(?:{alternation})(?![a-z0-9-])"),
                triggers=tuple(hosts), ci=True, not_after=_WORD_CHARS[:-1] + "-", lines=True)
