"""detect-secrets' regex plugins as a second detector for `Redactor`.

We use the plugins' own compiled `denylist` regexes over the whole text (not `scan_line` per line, which is
~100x slower and applies file-level filters), each gated by literal triggers so a plugin only runs on text
that could contain its token. Left out on purpose: the high-entropy plugins (they flag commit ids, UUIDs,
hashes and base64 images), the keyword plugin (our assignment rule covers it with look-alike checks), the
public-IP plugin (our IP rule keeps private ranges), and private-key / basic-auth (ours remove the key body
and the URL password only). Every hit still passes our placeholder filter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bashgym.factory.redact_rules import SECRET, is_placeholder

Span = tuple[int, int, str, str]
Detector = Callable[[str], list[Span]]

# Plugins whose every match holds a TOKEN_RUN-long run of token characters on one line: they run only on the
# lines `token_lines` picks. Those marked CONTEXT have triggers that may lie elsewhere in the text (an "IBM"
# a line above), so their triggers are checked on the whole text (at C speed, before their slow regexes run).
TOKEN_RUN_PLUGINS = frozenset(
    """DiscordBotTokenDetector GitHubTokenDetector GitLabTokenDetector MailchimpDetector OpenAIDetector
    PypiTokenDetector SendGridDetector SquareOAuthDetector StripeDetector TwilioKeyDetector IbmCloudIamDetector
    IbmCosHmacDetector SoftlayerDetector CloudantDetector TelegramBotTokenDetector""".split()
)
CONTEXT_PLUGINS = frozenset(
    "IbmCloudIamDetector IbmCosHmacDetector SoftlayerDetector CloudantDetector TelegramBotTokenDetector".split()
)
# AWS: its key-id regex is a token run, its secret-key regex (base64 with / and +) is not
SPLIT_PLUGINS = {"AWSKeyDetector": (True, False)}


# plugin class name → (our kind, case-sensitive literal triggers; empty = always run)
_PLUGINS: dict[str, tuple[str, tuple[str, ...]]] = {
    "AWSKeyDetector": ("aws_access_key", ("AKIA", "ASIA", "ABIA", "ACCA", "A3T")),
    "AzureStorageKeyDetector": ("azure_storage_key", ("AccountKey=",)),
    "CloudantDetector": ("cloudant_credentials", ("cloudant",)),
    "DiscordBotTokenDetector": ("discord_token", ()),
    "GitHubTokenDetector": ("github_token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),
    "GitLabTokenDetector": ("gitlab_token", ("gl", "GR1348941")),
    "IbmCloudIamDetector": ("ibm_cloud_iam", ("ibm_", "IBM_", "ibm-", "IBM-", "ibmcloud", "IbmCloud")),
    "IbmCosHmacDetector": ("ibm_cos_hmac", ("cos_hmac", "COS_HMAC", "ibm", "IBM")),
    "JwtTokenDetector": ("jwt", ("eyJ",)),
    "MailchimpDetector": ("mailchimp_key", tuple(f"-us{d}" for d in range(10))),  # its regex: -us[0-9]
    "NpmDetector": ("npm_token", ("_authToken",)),
    "OpenAIDetector": ("openai_key", ("T3BlbkFJ",)),
    "PypiTokenDetector": ("pypi_token", ("pypi-",)),
    "SendGridDetector": ("sendgrid_key", ("SG.",)),
    "SlackDetector": ("slack_token", ("xox", "hooks.slack.com")),
    "SoftlayerDetector": ("softlayer_credentials", ("softlayer", "SOFTLAYER", "sl_")),
    "SquareOAuthDetector": ("square_token", ("sq0csp",)),
    "StripeDetector": ("stripe_key", ("_live_",)),
    "TelegramBotTokenDetector": ("telegram_token", (":AA",)),
    "TwilioKeyDetector": ("twilio_key", ("AC", "SK")),
    "ArtifactoryDetector": ("artifactory_token", ("artifactory", "Artifactory", "ARTIFACTORY")),
}


@dataclass(frozen=True)
class PluginDetector:
    """Some of one plugin's regexes; `scan` finds spans, the caller decides where (see `triggered`)."""

    kind: str
    triggers: tuple[str, ...]
    denylist: tuple[re.Pattern[str], ...]
    token_run: bool  # scan only the token lines
    context: bool  # triggers may be outside the match: check them on the whole text

    def triggered(self, text: str) -> bool:
        return not self.triggers or any(t in text for t in self.triggers)

    def __call__(self, text: str) -> list[Span]:
        return self.scan(text) if self.triggered(text) else []

    def scan(self, text: str) -> list[Span]:
        spans: list[Span] = []
        for regex in self.denylist:
            for m in regex.finditer(text):
                # plugins put the secret in group 1 when they match context around it
                g = 1 if regex.groups and m.group(1) else 0
                start, end = m.span(g)
                value = text[start:end].strip().strip("\"'")
                if len(value) < 8 or is_placeholder(value):
                    continue
                offset = text.find(value, start, end)
                spans.append((offset, offset + len(value), self.kind, SECRET))
        return spans


def load_detectors() -> list[PluginDetector]:
    """Detectors from detect-secrets' plugins, in its order; [] without detect-secrets (base install)."""
    try:
        import detect_secrets.plugins as ds_plugins  # noqa: F401
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    except ImportError:
        return []
    detectors: list[PluginDetector] = []
    for cls in get_mapping_from_secret_type_to_class().values():
        spec = _PLUGINS.get(cls.__name__)
        if spec is None:
            continue
        denylist = tuple(getattr(cls(), "denylist", ()))
        if not denylist:
            continue
        name = cls.__name__
        context = name in CONTEXT_PLUGINS
        if name in SPLIT_PLUGINS:
            for regex, on_runs in zip(denylist, SPLIT_PLUGINS[name], strict=True):
                detectors.append(PluginDetector(spec[0], spec[1], (regex,), on_runs, context))
        else:
            detectors.append(PluginDetector(spec[0], spec[1], denylist, name in TOKEN_RUN_PLUGINS, context))
    return detectors

