"""Merge bashgym's hooks into an agent's settings.json (Claude Code, Gemini CLI, Qwen Code, GitHub Copilot CLI),
and take them out again.

The merge keeps every existing hook and setting, is idempotent (installing twice equals once), replaces a
bashgym hook left by an older install (another interpreter path), backs the file up before changing it,
and writes atomically. Our entries are recognised by the hook script's path, so uninstall touches nothing
else. The command is the install's absolute interpreter running the hook script with `-S`: no shell shim,
no uv/uvx start-up on every tool call.
"""

from __future__ import annotations

import difflib
import json
import os
import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bashgym.errors import ConfigError
from bashgym.paths import claude_home, home_dir

HOOK_EVENTS = (
    "SessionStart", "UserPromptSubmit", "PostToolUse", "PostToolUseFailure", "Stop", "SubagentStop", "PreCompact",
    "SessionEnd",
)
# Events whose hooks take a tool-name matcher; the others ignore it.
MATCHER_EVENTS = {"PostToolUse": "*", "PostToolUseFailure": "*", "PreToolUse": "*"}
HOOK_MARKER = "bashgym/capture/hook.py"
HOOK_TIMEOUT_S = 10


@dataclass(frozen=True)
class AgentHooks:
    """How one agent takes command hooks in its settings.json: where the file is, which events bashgym
    listens to, which take a tool matcher, and the timeout as that agent counts it."""

    name: str
    settings_dir: str  # ~/<dir>/settings.json, or <project>/<dir>/settings.json with --project
    events: tuple[str, ...]
    matchers: dict[str, str]
    timeout: int  # in the agent's unit
    extra: dict[str, Any] = field(default_factory=dict)  # added to each hook entry
    file_name: str = "settings.json"
    project_dir: str | None = None  # where --project looks, when not settings_dir
    flat: bool = False  # entries directly under the event ({type, bash, timeoutSec}), not in matcher groups
    home_env: str | None = None  # an env var that moves the user-level settings_dir (COPILOT_HOME, QWEN_HOME)

    def entry(self, command: str) -> dict[str, Any]:
        """One hook entry running `command`, in this agent's form."""
        if self.flat:
            return {**self.extra, "type": "command", "bash": command, "timeoutSec": self.timeout}
        return {**self.extra, "type": "command", "command": command, "timeout": self.timeout}


# Gemini CLI 0.61 (hooks on by default, `settings.hooks.<Event>[{matcher, hooks: [{type, command, timeout
# (ms)}]}]`, a JSON object on stdin with session_id, transcript_path (the chat file), cwd, hook_event_name,
# timestamp). BeforeAgent carries the prompt, AfterAgent ends a turn (the chat file is imported then).
GEMINI_EVENTS = ("SessionStart", "BeforeAgent", "AfterTool", "AfterAgent", "PreCompress", "SessionEnd")
AGENTS: dict[str, AgentHooks] = {
    "claude": AgentHooks("claude", ".claude", HOOK_EVENTS, MATCHER_EVENTS, HOOK_TIMEOUT_S),
    "gemini": AgentHooks("gemini", ".gemini", GEMINI_EVENTS, {"AfterTool": "*"}, HOOK_TIMEOUT_S * 1000,
                         {"name": "bashgym"}),
    # Codex CLI: its `notify` program in config.toml (capture/codex_notify.py), one event per finished turn.
    "codex": AgentHooks("codex", ".codex", ("agent-turn-complete",), {}, 0, file_name="config.toml"),
    # Qwen Code 0.24 (a Gemini CLI fork whose hooks took Claude Code's events and payloads: session_id,
    # transcript_path (the chat file), cwd, hook_event_name; timeouts in seconds): settings.json as Claude's.
    "qwen": AgentHooks("qwen", ".qwen", HOOK_EVENTS, MATCHER_EVENTS, HOOK_TIMEOUT_S, home_env="QWEN_HOME"),
    # GitHub Copilot CLI 1.0 (`hooks` in ~/.copilot/settings.json, repo-level in .github/copilot/settings.json):
    # flat entries {type, bash, timeoutSec (s)}; PascalCase event names get the Claude-style payload
    # (hook_event_name, session_id; Stop carries transcript_path = the session's events.jsonl).
    "copilot": AgentHooks("copilot", ".copilot", HOOK_EVENTS, {}, HOOK_TIMEOUT_S, project_dir=".github/copilot",
                          flat=True, home_env="COPILOT_HOME"),
}


def agent_hooks(agent: str) -> AgentHooks:
    """The hook layout of `agent`; an unknown name is a ConfigError listing the known ones."""
    if agent not in AGENTS:
        from bashgym.errors import choice_error

        raise choice_error("--agent", agent, tuple(AGENTS))
    return AGENTS[agent]
# In BASHGYM_HOME: the interpreter and hook script for the plugin's hook (`bashgym hooks install --plugin`).
PLUGIN_POINTER = "hook-command"


def hook_script() -> Path:
    return Path(__file__).resolve().with_name("hook.py")


def hook_argv(home: Path | None = None, agent: str = "claude") -> list[str]:
    """The hook's argv (`--agent` tells the hook whose events they are)."""
    parts = [sys.executable, "-S", str(hook_script())]
    if home is not None:
        parts += ["--home", str(home)]
    if agent != "claude":
        parts += ["--agent", agent]
    return parts


def hook_command(home: Path | None = None, agent: str = "claude") -> str:
    """The command the agent runs for every event, as one shell string."""
    return " ".join(shlex.quote(p) for p in hook_argv(home, agent))


def plugin_pointer(home: Path | None = None) -> Path:
    """Where the plugin's hook script looks for this install's interpreter (bashgym may not be on its PATH)."""
    return (home or home_dir()) / PLUGIN_POINTER


def record_plugin_interpreter(home: Path | None = None) -> Path:
    """Write the interpreter and hook script the plugin's `bashgym-hook.sh` runs, one per line."""
    path = plugin_pointer(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(f"{sys.executable}\n{hook_script()}\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def plugin_hook_target(home: Path | None = None) -> tuple[str | None, str]:
    """What the plugin's hook would run: (command, how it was found), or (None, why nothing would run).

    Mirrors `plugin/hooks/bashgym-hook.sh`: the recorded interpreter first, then `bashgym-hook` on PATH.
    """
    path = plugin_pointer(home)
    stale = ""
    if path.exists():
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines() + ["", ""]
        python, script = lines[0], lines[1]
        if os.access(python, os.X_OK) and Path(script).is_file():
            return f"{python} -S {script}", f"recorded in {path}"
        stale = f"{path} names {python or 'nothing'}, which is gone; "
    found = shutil.which("bashgym-hook")
    if found:
        return found, "bashgym-hook on PATH (Claude Code must share this PATH)"
    return None, stale + "bashgym-hook is not on PATH and no interpreter is recorded"


def installed_plugins() -> list[str]:
    """Ids (`bashgym@<marketplace>`) of bashgym plugins Claude Code has installed and enabled."""
    registry = claude_home() / "plugins" / "installed_plugins.json"
    try:
        plugins = json.loads(registry.read_text(encoding="utf-8")).get("plugins") or {}
        enabled = read_settings(settings_path(False)).get("enabledPlugins") or {}
    except (OSError, ValueError, AttributeError, ConfigError):
        return []
    return sorted(pid for pid in plugins if pid.split("@")[0] == "bashgym" and enabled.get(pid, True) is not False)


def settings_path(project: bool = False, cwd: Path | None = None, agent: str = "claude") -> Path:
    if agent == "codex":
        from bashgym.capture.codex_notify import config_path

        return config_path(project, cwd)
    spec = agent_hooks(agent)
    if project:
        return (cwd or Path.cwd()) / (spec.project_dir or spec.settings_dir) / "settings.json"
    if agent == "claude":
        return claude_home() / "settings.json"
    moved = os.environ.get(spec.home_env) if spec.home_env else None
    return (Path(moved) if moved else Path.home() / spec.settings_dir) / "settings.json"


def is_ours(hook: Any) -> bool:
    """A hook entry running bashgym's hook script (`command`, or Copilot's `bash`)."""
    return isinstance(hook, dict) and any(HOOK_MARKER in str(hook.get(k, "")) for k in ("command", "bash"))


def read_settings(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}); fix or move the file, then rerun"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object at the top level, found {type(data).__name__}")
    if "hooks" in data and not isinstance(data["hooks"], dict):
        raise ConfigError(f"{path}: field 'hooks' must be an object, found {type(data['hooks']).__name__}")
    return data


def _strip_ours(groups: list[Any]) -> list[Any]:
    """Matcher groups (or flat entries) with our hooks removed; groups left empty are dropped."""
    out = []
    for group in groups:
        if not isinstance(group, dict) or not isinstance(group.get("hooks"), list):
            if not is_ours(group):
                out.append(group)
            continue
        kept = [h for h in group["hooks"] if not is_ours(h)]
        if kept:
            out.append({**group, "hooks": kept})
        elif not any(is_ours(h) for h in group["hooks"]):
            out.append(group)
    return out


def merged_settings(settings: dict[str, Any], command: str, agent: str = "claude") -> dict[str, Any]:
    spec = agent_hooks(agent)
    new = json.loads(json.dumps(settings))
    hooks = new.setdefault("hooks", {})
    for event in spec.events:
        groups = _strip_ours(hooks.get(event) or [])
        group: dict[str, Any] = spec.entry(command) if spec.flat else {"hooks": [spec.entry(command)]}
        if event in spec.matchers:
            group = {"matcher": spec.matchers[event], **group}
        groups.append(group)
        hooks[event] = groups
    return new


def removed_settings(settings: dict[str, Any]) -> dict[str, Any]:
    new = json.loads(json.dumps(settings))
    hooks = new.get("hooks")
    if not isinstance(hooks, dict):
        return new
    for event in list(hooks):
        if isinstance(hooks[event], list):
            groups = _strip_ours(hooks[event])
            if groups:
                hooks[event] = groups
            else:
                del hooks[event]
    if not hooks:
        del new["hooks"]
    return new


@dataclass
class SettingsChange:
    path: Path
    before: dict[str, Any]
    after: dict[str, Any]
    backup: Path | None = None
    written: bool = False
    events: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def diff(self) -> str:
        a = json.dumps(self.before, indent=2).splitlines(keepends=True) if self.before else []
        b = json.dumps(self.after, indent=2).splitlines(keepends=True) if self.after else []
        return "".join(difflib.unified_diff(a, b, f"{self.path} (now)", f"{self.path} (after)"))


def _write(change: SettingsChange) -> None:
    path = change.path
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        change.backup = path.with_name(f"{path.name}.bashgym-backup-{time.strftime('%Y%m%d-%H%M%S')}")
        n = 1
        while change.backup.exists():
            change.backup = path.with_name(f"{path.name}.bashgym-backup-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
            n += 1
        change.backup.write_bytes(path.read_bytes())
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    text = change.text() if hasattr(change, "text") else json.dumps(change.after, indent=2) + "\n"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    change.written = True


def install(path: Path, *, home: Path | None = None, dry_run: bool = False, agent: str = "claude") -> SettingsChange:
    if agent == "codex":
        from bashgym.capture.codex_notify import installed_config

        codex = installed_config(path, hook_argv(home, agent), HOOK_MARKER)
        if codex.changed and not dry_run:
            _write(codex)  # type: ignore[arg-type] - same interface
        return codex  # type: ignore[return-value]
    before = read_settings(path)
    change = SettingsChange(path, before, merged_settings(before, hook_command(home, agent), agent),
                            events=list(agent_hooks(agent).events))
    if change.changed and not dry_run:
        _write(change)
    return change


def uninstall(path: Path, *, dry_run: bool = False, agent: str = "claude") -> SettingsChange:
    if agent == "codex":
        from bashgym.capture.codex_notify import removed_config

        codex = removed_config(path, HOOK_MARKER)
        if codex.changed and not dry_run:
            _write(codex)  # type: ignore[arg-type] - same interface
        return codex  # type: ignore[return-value]
    before = read_settings(path)
    change = SettingsChange(path, before, removed_settings(before))
    if change.changed and not dry_run:
        _write(change)
    return change


def installed_events(path: Path, agent: str = "claude") -> dict[str, str]:
    """Event → our command, for the events where a bashgym hook is configured in this file."""
    if agent == "codex":
        from bashgym.capture.codex_notify import installed_events as codex_events

        return codex_events(path, HOOK_MARKER)
    try:
        settings = read_settings(path)
    except ConfigError:
        return {}
    out: dict[str, str] = {}
    for event, groups in (settings.get("hooks") or {}).items():
        for group in groups if isinstance(groups, list) else []:
            if is_ours(group):  # a flat entry (Copilot)
                out[event] = group.get("bash") or group.get("command", "")
            for hook in (group.get("hooks") or []) if isinstance(group, dict) else []:
                if is_ours(hook):
                    out[event] = hook.get("command", "")
    return out
