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
    match = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f' (did you mean "{match[0]}"?)' if match else ""


def unknown_key_error(key: str, valid: Iterable[str], where: str) -> ConfigError:
    valid = sorted(valid)
    return ConfigError(f"unknown key {key!r} in {where}{did_you_mean(key, valid)}")


def require(module: str, extra: str) -> None:
    """Import check for optional extras: raise MissingDependencyError with the pip command to run."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise MissingDependencyError(
            f"this needs the optional package {module!r}: pip install 'bashgym[{extra}]'"
        )
