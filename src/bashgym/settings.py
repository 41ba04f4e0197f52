"""User settings: `$BASHGYM_HOME/config.json`, read and written by `bashgym config`.

One flat JSON object of dotted keys, plus `projects`: {absolute directory: {key: value}} for settings that
hold only for sessions in that directory (per-project redaction lists). Keys, types and meanings are in
`KEYS`; an unknown key is an error that names the closest one. The capture hook (standard library only, no
JSON parser) reads `capture.redact` by looking for `"capture.redact": true` in the file's bytes, so this
module always writes it on one line (`write_settings`).

    {"capture.redact": true, "redact.deny": ["Acme Corp"],
     "projects": {"/home/me/src/client-x": {"redact.deny": ["Client X", "clientx.internal"]}}}
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bashgym.errors import ConfigError, did_you_mean
from bashgym.paths import home_dir


@dataclass(frozen=True)
class Key:
    name: str
    kind: type  # bool or list
    default: Any
    help: str
    per_project: bool = False


KEYS: dict[str, Key] = {k.name: k for k in (
    Key("capture.redact", bool, False,
        "Store only redacted text when importing (hooks and `bashgym import`): sessions and the raw-line store "
        "hold placeholders, never the secrets; the hook's event log keeps only event names and session ids."),
    Key("redact.deny", list, [],
        "Words and names always removed (people, clients, internal hosts), whole words, any case.",
        per_project=True),
    Key("redact.allow", list, [],
        "Values never removed (a public support address, a published test key), exactly as written.",
        per_project=True),
)}


def settings_path(home: Path | None = None) -> Path:
    return (home or home_dir()) / "config.json"


def read_settings(home: Path | None = None) -> dict[str, Any]:
    """The settings file as a dict ({} when there is none); a broken file is an error naming it."""
    path = settings_path(home)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); fix it or remove it and use "
                          "`bashgym config set`") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object of settings, got {type(data).__name__}")
    return data


def write_settings(data: dict[str, Any], home: Path | None = None) -> Path:
    """Write the settings atomically (one key a line, `"key": value`, which the hook's byte search expects)."""
    path = settings_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def key(name: str) -> Key:
    if name not in KEYS:
        raise ConfigError(f"unknown setting {name!r}{did_you_mean(name, list(KEYS))}; settings: {', '.join(KEYS)}")
    return KEYS[name]


def parse_value(k: Key, value: str) -> Any:
    """`true`/`false` for a bool; a comma-separated list for a list (empty string: the empty list)."""
    if k.kind is bool:
        low = value.strip().lower()
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"{k.name} takes true or false, not {value!r}")
    return [v.strip() for v in value.split(",") if v.strip()]


def project_key(directory: str | os.PathLike[str]) -> str:
    return str(Path(directory).expanduser().resolve())


def set_value(name: str, value: str, *, project: str | None = None, home: Path | None = None) -> Any:
    """Set a key (for a project's directory when given); returns the stored value."""
    k = key(name)
    if project is not None and not k.per_project:
        raise ConfigError(f"{name} is not a per-project setting (per-project: "
                          f"{', '.join(n for n, x in KEYS.items() if x.per_project)})")
    parsed = parse_value(k, value)
    data = read_settings(home)
    target = data.setdefault("projects", {}).setdefault(project_key(project), {}) if project else data
    target[name] = parsed
    write_settings(data, home)
    return parsed


def unset_value(name: str, *, project: str | None = None, home: Path | None = None) -> None:
    key(name)
    data = read_settings(home)
    target = (data.get("projects") or {}).get(project_key(project), {}) if project else data
    target.pop(name, None)
    if project and not target:
        (data.get("projects") or {}).pop(project_key(project), None)
    write_settings(data, home)


def get_value(name: str, *, project: str | None = None, home: Path | None = None) -> Any:
    """The value in effect: the project's (when set for `project` or a directory above it), else the global
    one, else the default."""
    k = key(name)
    data = read_settings(home)
    if project is not None:
        for _, values in matching_projects(data, project):
            if name in values:
                return values[name]
    return data.get(name, k.default)


def matching_projects(data: dict[str, Any], directory: str) -> list[tuple[str, dict[str, Any]]]:
    """The project entries whose directory holds `directory`, nearest first."""
    path = project_key(directory) if directory else ""
    found = [(root, values) for root, values in (data.get("projects") or {}).items()
             if path == root or path.startswith(root.rstrip("/") + "/")]
    return sorted(found, key=lambda rv: -len(rv[0]))


def redaction_lists(home: Path | None = None) -> tuple[list[str], list[str], dict[str, tuple[list[str], list[str]]]]:
    """(global allow, global deny, {project directory: (allow, deny)}) for a Redactor."""
    data = read_settings(home)
    projects = {root: (list(v.get("redact.allow") or []), list(v.get("redact.deny") or []))
                for root, v in (data.get("projects") or {}).items()}
    return list(data.get("redact.allow") or []), list(data.get("redact.deny") or []), projects


def capture_redact(home: Path | None = None) -> bool:
    return bool(read_settings(home).get("capture.redact", False))
