"""Health checks behind `bashgym doctor`: each check says OK, or what is wrong and what to do."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from bashgym import __version__
from bashgym.errors import install_hint
from bashgym.paths import db_path

OK, WARN, FAIL = "ok", "warn", "fail"

# extra → the packages that make it work
EXTRAS = {
    "factory": ("datasets", "pyarrow", "numpy", "detect-secrets"),
    "train": ("torch", "transformers", "trl", "peft", "accelerate"),
    "gym": ("gymnasium",),
    "ui": ("fastapi", "uvicorn", "jinja2"),
}


@dataclass
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_python() -> Check:
    v = sys.version_info
    ok = v >= (3, 11)
    return Check("python", OK if ok else FAIL, f"{sys.version.split()[0]} at {sys.executable}; bashgym {__version__}",
                 "" if ok else "bashgym needs Python 3.11 or newer")


def check_extras() -> list[Check]:
    out = []
    for extra, packages in EXTRAS.items():
        versions = {p: _version(p) for p in packages}
        missing = [p for p, v in versions.items() if v is None]
        detail = ", ".join(f"{p} {v}" for p, v in versions.items() if v)
        if missing:
            fix = install_hint(extra)
            out.append(Check(f"extra [{extra}]", WARN, f"missing {', '.join(missing)}" + (f"; have {detail}" if detail else ""), fix))
        else:
            out.append(Check(f"extra [{extra}]", OK, detail))
    return out


def check_torch() -> Check:
    if importlib.util.find_spec("torch") is None:
        return Check("torch", WARN, "not installed (training and local-model eval need it)",
                     "pip install 'torch==2.13.0' 'bashgym[train]'")
    import torch

    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        bf16 = torch.cuda.is_bf16_supported()
        return Check("torch", OK, f"{torch.__version__}, CUDA {torch.version.cuda}: {names} (bf16 {'yes' if bf16 else 'no'})")
    return Check("torch", OK, f"{torch.__version__}, CPU only (training runs, slowly; `--gpu auto` uses CUDA when present)")


def check_sandbox() -> Check:
    try:
        from bashgym.gym.sandbox import detect_layer
    except ImportError as exc:
        return Check("sandbox", WARN, f"gym not importable: {exc}", install_hint("gym"))
    info = detect_layer()
    if info.name == "bubblewrap":
        return Check("sandbox", OK, f"{info.name}: {info.reason}")
    return Check("sandbox", WARN, f"{info.name}: {info.reason}", "apt-get install bubblewrap (the strongest layer)")


def check_hooks() -> Check:
    from bashgym.capture import events, install

    places = {"user": install.settings_path(False), "project": install.settings_path(True)}
    installed = {name: install.installed_events(path) for name, path in places.items()}
    where = [name for name, evs in installed.items() if evs]
    plugins = install.installed_plugins()
    stats = events.event_stats()
    errors = events.last_errors(n=1)
    if not where and not plugins:
        return Check("hooks", WARN, f"not installed in settings.json nor as a plugin ({stats.total} events seen)",
                     "bashgym hooks install")
    seen = f"{stats.total} events from {len(stats.sessions)} sessions"
    if plugins and where:
        return Check("hooks", WARN, f"installed twice: plugin {', '.join(plugins)} and settings.json ({', '.join(where)}); "
                     f"every event arrives twice; {seen}", "bashgym hooks uninstall  (the plugin captures)")
    if plugins:
        command, how = install.plugin_hook_target()
        detail = f"plugin {', '.join(plugins)}: {how}; {seen}"
        if command is None:
            return Check("hooks", FAIL, detail + (f"; last hook error: {errors[-1]}" if errors else ""),
                         "bashgym hooks install --plugin  (records this Python for the plugin's hook)")
    else:
        detail = f"installed ({', '.join(where)}); {seen}"
        missing = [e for e in install.HOOK_EVENTS if not any(e in evs for evs in installed.values())]
        if missing:
            return Check("hooks", WARN, detail + f"; missing {', '.join(missing)}", "bashgym hooks install")
    if errors:
        return Check("hooks", WARN, detail + f"; last hook error: {errors[-1]}", "see bashgym hooks status")
    return Check("hooks", OK, detail)


def check_store() -> Check:
    path = db_path()
    if not path.exists():
        return Check("store", WARN, f"no store yet at {path}", "bashgym import claude  (or bashgym demo)")
    from bashgym.store import Store

    try:
        with Store(path) as store:
            result = store.integrity_check()
            sessions = store.count_sessions()
            applied = len(store.applied_migrations())
    except Exception as exc:  # noqa: BLE001 - a broken store is exactly what doctor reports
        return Check("store", FAIL, f"{path}: {type(exc).__name__}: {exc}", "move the file aside and re-import")
    size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())
    detail = f"{path} ({size / 1e6:.1f} MB, {sessions} sessions, {applied} migrations)"
    if result != "ok":
        return Check("store", FAIL, f"{detail}: integrity check says {result}", "move the file aside and re-import")
    return Check("store", OK, detail)


def _cli_version(name: str) -> str | None:
    candidates = [shutil.which(name), str(Path.cwd() / ".tools" / "node_modules" / ".bin" / name)]
    for exe in candidates:
        if exe and Path(exe).exists():
            try:
                out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=20)
                return f"{out.stdout.strip() or out.stderr.strip()} ({exe})"
            except (OSError, subprocess.TimeoutExpired):
                continue
    return None


def check_agent_clis() -> list[Check]:
    out = []
    for name, package in (("claude", "@anthropic-ai/claude-code"), ("codex", "@openai/codex")):
        version = _cli_version(name)
        if version:
            out.append(Check(f"{name} CLI", OK, version))
        else:
            out.append(Check(f"{name} CLI", WARN, "not found on PATH", f"npm install -g {package} (only to capture or test it)"))
    return out


def run_checks() -> list[Check]:
    return [check_python(), *check_extras(), check_torch(), check_sandbox(), check_hooks(), check_store(),
            *check_agent_clis()]
