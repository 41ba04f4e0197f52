"""Number-shaped personal data for `Redactor`: payment cards (Luhn) and phone numbers (`phonenumbers`).

A regex finds candidates cheaply; a validator decides. A card is 13-19 digits, with no separators or in the
groupings cards are printed in, that starts with an issuer's prefix valid for its length and passes the Luhn
check; the test card numbers payment providers publish in their docs (4242 4242 4242 4242, ...) are kept.
A phone number is one that Google's libphonenumber metadata (the `phonenumbers` package, in the factory
extra) calls valid: written with a country code (`+33 6 ...`, `0033 6 ...`, `tel:+44...`) or in the North
American national form (`(826) 874-1234`). Without `phonenumbers` the regex phone rules in
`redact_rules.PII_RULES` still run (they run in any case), so a base install keeps its old recall.

>>> [s[3] for s in CardDetector().scan("paid with 4000 1234 5678 9017 on 2025-01-02")]
['card']
>>> CardDetector().scan("Stripe's test card 4242 4242 4242 4242 and order 4000123456789011")
[]
"""

from __future__ import annotations

import re
from typing import Any

from bashgym.factory.redact_rules import CARD, PHONE, SIGNED_DECIMAL, Span, escaped_break

# Published test numbers (Stripe, Braintree, Adyen, PayPal docs): in a transcript they are docs, not a card.
TEST_CARDS = frozenset("""
4242424242424242 4000056655665556 5555555555554444 2223003122003222 5200828282828210 5105105105105100
378282246310005 371449635398431 6011111111111117 6011000990139424 3056930009020004 36227206271667
3566002020360505 6200000000000005 4111111111111111 4012888888881881 4222222222222 5431111111111111
6011601160116611 4000000000003220 4000000000009995 4000000000000002 4000000000000077 4000002500003155
4000000000000341 4000000000000069 4000000000000127 4000000000000119 4242424242424241 5454545454545454
6011000400000000 3530111333300000 30569309025904 38520000023237 2720992720992726 4917610000000000
4462030000000000 4917300800000000 4484070000000000 5425233430109903 2222420000001113 2223000048410010
""".split())

# The candidate: digits in one of the groupings a card is written in, not glued to other digits or words.
_CARD = re.compile(
    r"[2-6]\d{3}(?:(?P<sep>[ -])\d{4}(?P=sep)\d{4}(?P=sep)\d{4}(?:(?P=sep)\d{1,3})?"  # 4-4-4-4(-3)
    r"|(?P<sep2>[ -])\d{6}(?P=sep2)\d{4,5}"  # 4-6-5 (Amex), 4-6-4 (Diners)
    r"|\d{9,15})"  # no separators: 13-19 digits
    r"(?![\w-]|\.\d)"
)
_DIGIT_MARKS = bytes(0x64 if 0x30 <= i <= 0x39 else 0x20 if i in (0x20, 0x2D) else 0x2E for i in range(256))
_LONG_UNBROKEN = frozenset(["62", *(f"4{d}" for d in range(10))])
_GLUE = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-.+/#")  # not = or : (pan=4...)


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum every payment card number carries.

    >>> luhn_ok("4000123456789017"), luhn_ok("4000123456789011")
    (True, False)
    """
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = ord(c) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def issuer_ok(digits: str) -> bool:
    """The number starts with a card network's prefix and has a length that network issues."""
    n, two, four = len(digits), int(digits[:2]), int(digits[:4])
    if digits[0] == "4":
        return n in (13, 16, 19)  # Visa
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return n == 16  # Mastercard
    if two in (34, 37):
        return n == 15  # American Express
    if four == 6011 or two == 65 or 644 <= int(digits[:3]) <= 649:
        return 16 <= n <= 19  # Discover
    if 3528 <= four <= 3589:
        return 16 <= n <= 19  # JCB
    if 300 <= int(digits[:3]) <= 305 or two in (36, 38, 39):
        return n in (14, 16)  # Diners Club
    if two == 62:
        return 16 <= n <= 19  # UnionPay
    return False


class CardDetector:
    """Payment card numbers; a detector in the shape `Redactor` runs (`scan`, `triggered`, no triggers)."""

    kind = "payment_card"
    triggers: tuple[str, ...] = ()
    token_run = False
    context = False

    def triggered(self, text: str) -> bool:
        return True

    def scan(self, text: str) -> list[Span]:
        spans: list[Span] = []
        # one byte a character: digit d, separator space, anything else a dot. Every card holds 8 digits in a
        # row or two groups of 4 around one separator, which few other numbers do: only there is it tried.
        marks = text.encode("ascii", "replace").translate(_DIGIT_MARKS)
        pos, n = 0, len(marks)
        joined, grouped = marks.find(b"dddddddd"), marks.find(b"dddd dddd")
        while True:
            if -1 < joined < pos:  # each pattern is searched again only once passed, so the scan stays linear
                joined = marks.find(b"dddddddd", pos)
            if -1 < grouped < pos:
                grouped = marks.find(b"dddd dddd", pos)
            if joined == -1 and grouped == -1:
                break
            start = grouped if joined == -1 or (grouped != -1 and grouped < joined) else joined
            while start > pos and marks[start - 1] == 0x64:  # back to where this run of digits begins
                start -= 1
            m = _CARD.match(text, start) if marks.count(b"d", start, start + 23) >= 13 else None
            ends = [e for e in (marks.find(b" ", start), marks.find(b".", start)) if e != -1]
            pos = max(m.end() if m else 0, min(ends) if ends else n, start + 1)
            if m is None:
                continue
            if m.start() and text[m.start() - 1] in _GLUE and not escaped_break(text, m.start()):
                continue
            digits = m.group(0).replace(" ", "").replace("-", "")
            if len(m.group(0)) > 16 and digits == m.group(0) and digits[:2] not in _LONG_UNBROKEN:
                continue  # an unbroken 17-19 digit run is an id or a timestamp, unless UnionPay or Visa
            if issuer_ok(digits) and luhn_ok(digits) and digits not in TEST_CARDS:
                spans.append((m.start(), m.end(), self.kind, CARD))
        return spans


# + or 00, a country code, the number: one regex per prefix, so `re` can jump to the literal. The North
# American national forms ((826) 874-1234, 826-874-1234) are the regex rules' (redact_rules.PII_RULES).
_NUMBER = r"[1-9](?:[ .\-/]?(?:\(0\)|\(\d{1,4}\)|\d)){6,17}"
_PHONE_PLUS = re.compile(r"\+" + _NUMBER)
_PHONE_00 = re.compile(r"00" + _NUMBER)
_PHONE_BEFORE = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_.+/-")  # not = or : (phone=+33...)
_PHONE_AFTER = re.compile(r"[\w/-]|[.,]\d")


class PhoneDetector:
    """Phone numbers `phonenumbers` calls valid; None-safe: `load_phone_detector` returns None without it."""

    kind = "phone"
    triggers: tuple[str, ...] = ()
    token_run = False
    context = False

    def __init__(self, phonenumbers: Any) -> None:
        self._pn = phonenumbers
        self._seen: dict[tuple[str, str | None], bool] = {}  # candidate -> valid: numbers recur in a transcript

    def triggered(self, text: str) -> bool:
        return True

    def scan(self, text: str) -> list[Span]:
        spans: list[Span] = []
        for regex, region in ((_PHONE_PLUS, None), (_PHONE_00, None)):
            if regex is _PHONE_PLUS and "+" not in text:
                continue
            for m in regex.finditer(text):
                start, end = m.span()
                if start and text[start - 1] in _PHONE_BEFORE and not escaped_break(text, start):
                    continue
                if _PHONE_AFTER.match(text, end):
                    continue
                end = self._valid_end(text, start, end, region)
                if end:
                    spans.append((start, end, self.kind, PHONE))
        return spans

    def _valid_end(self, text: str, start: int, end: int, region: str | None) -> int:
        """Where the valid number that starts at `start` ends (0: none): the greedy candidate, or it less a
        trailing group or two (`+33 6 12 34 56 78 2024` is a phone followed by a year)."""
        if SIGNED_DECIMAL.match(text, start, end):
            return 0  # `+20251125.1432`: a signed decimal (a stamp, an offset), not a number in groups
        for _ in range(3):
            if self._valid(text[start:end], region):
                return end
            cut = max(text.rfind(c, start, end) for c in " .-/")
            if cut <= start + 4:
                return 0
            end = cut
        return 0

    def _valid(self, candidate: str, region: str | None) -> bool:
        known = self._seen.get((candidate, region))
        if known is None:
            known = self._parse_valid(candidate, region)
            if len(self._seen) < 100_000:
                self._seen[(candidate, region)] = known
        return known

    def _parse_valid(self, candidate: str, region: str | None) -> bool:
        number = "+" + candidate[2:] if candidate.startswith("00") else candidate
        digits = sum(c.isdigit() for c in number)
        if not 8 <= digits <= 17:
            return False
        try:
            parsed = self._pn.parse(number, region)
        except Exception:  # noqa: BLE001 - NumberParseException: not a number
            return False
        return bool(self._pn.is_valid_number(parsed))


def load_phone_detector() -> PhoneDetector | None:
    """The phone detector, or None when `phonenumbers` is not installed (pip install 'bashgym[factory]')."""
    try:
        import phonenumbers
    except ImportError:
        return None
    return PhoneDetector(phonenumbers)
