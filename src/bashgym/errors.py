"""Typed errors raised by library code; only the CLI turns them into user messages."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class BashgymError(Exception):
    """Base class: the message is shown to the user as is, so it names the bad value and what to do."""


class NotFoundError(BashgymError):
    """A session, dataset, run, task or file that does not exist."""


class ConfigError(BashgymError):
    """A config file or flag with a wrong key or value."""


class MissingDependencyError(BashgymError):
    """An optional extra is not installed; the message names the exact pip command."""


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """' (did you mean "x"?)' when a close match exists, else ''.

    >>> did_you_mean("learning_rat", ["learning_rate", "seed"])
    ' (did you mean "learning_rate"?)'
    """
    match = closest(value, choices)
    return f' (did you mean "{match}"?)' if match else ""


def closest(value: str, choices: Iterable[str]) -> str | None:
    """The choice most like `value`, if any is close enough to be a typo of it."""
    match = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return match[0] if match else None


def unknown_key_error(key: str, valid: Iterable[str], where: str) -> ConfigError:
    valid = sorted(valid)
    return ConfigError(f"unknown key {key!r} in {where}{did_you_mean(key, valid)}")


def bad_value(key: str, value: object, expected: str, where: str | None = None) -> str:
    """The one shape of every bad-value message: "key: got X, expected Y" (+ where it was read).

    >>> bad_value("tier", "platinum", "one of gold, silver")
    "tier: got 'platinum', expected one of gold, silver"
    """
    return f"{key}: got {value!r}, expected {expected}" + (f" (in {where})" if where else "")


def check_date(key: str, value: str | None) -> None:
    """Refuse a date filter a typo would silently turn into "no rows" (CLI flags, UI query parameters).

    >>> check_date("--since", "2026-11-01"); check_date("since", "2026-11-01T09:30")
    >>> check_date("since", "notadate")
    Traceback (most recent call last):
    ...
    bashgym.errors.ConfigError: since: got 'notadate', expected a date: YYYY-MM-DD or an ISO time such as 2026-11-01T09:30
    """
    from datetime import datetime

    if value is None:
        return
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(bad_value(key, value, "a date: YYYY-MM-DD or an ISO time such as 2026-11-01T09:30")) from None


def choice_error(key: str, value: object, choices: Iterable[str], where: str | None = None) -> ConfigError:
    """A value outside a fixed set: names the choices and the closest one.

    >>> print(choice_error("--tools", "bsh", ["native", "bash"]))
    --tools: got 'bsh', expected one of native, bash (did you mean "bash"?)
    """
    choices = [str(c) for c in choices]
    hint = did_you_mean(str(value), choices) if isinstance(value, str) else ""
    return ConfigError(bad_value(key, value, "one of " + ", ".join(choices), where) + hint)


def expected_from_pydantic(error: dict) -> str:
    """What a pydantic error dict says the value should have been, without pydantic's wording:
    `literal_error` → "one of a, b"; "Input should be a valid integer, ..." → "a valid integer"."""
    import re

    ctx = error.get("ctx") or {}
    if error.get("type") in ("literal_error", "enum") and "expected" in ctx:
        return "one of " + ", ".join(re.findall(r"'([^']*)'", str(ctx["expected"])) or [str(ctx["expected"])])
    msg = str(error.get("msg", "a valid value"))
    msg = msg.removeprefix("Value error, ")
    for prefix in ("Input should be ", "input should be "):
        if msg.startswith(prefix):
            return msg[len(prefix):].split(", unable to")[0]
    return msg


def pydantic_message(exc: object, where: str | None = None, prefix: str = "") -> str:
    """A pydantic ValidationError as "key: got X, expected Y" lines (one per error, first three)."""
    lines = []
    for error in exc.errors()[:3]:  # type: ignore[attr-defined]
        key = prefix + ".".join(str(p) for p in error.get("loc", ()) if isinstance(p, str) and p != "__root__")
        if error.get("type", "").startswith("value_error") or error.get("type") == "assertion_error":
            lines.append(f"{key or 'config'}: {expected_from_pydantic(error)}" + (f" (in {where})" if where else ""))
        else:
            lines.append(bad_value(key or "value", error.get("input"), expected_from_pydantic(error), where))
    return "; ".join(lines)


def install_hint(extra: str) -> str:
    """How to add an extra. bashgym is installed from a checkout or a git URL until it is on PyPI."""
    torch = " (torch==2.13.0 first for the CPU build)" if extra in ("train", "all") else ""
    return f"pip install 'bashgym[{extra}]'{torch} (from a bashgym checkout: pip install '.[{extra}]')"


def require(module: str, extra: str) -> None:
    """Import check for optional extras: raise MissingDependencyError with the pip command to run."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise MissingDependencyError(
            f"this needs the optional package {module!r}: {install_hint(extra)}"
        )
