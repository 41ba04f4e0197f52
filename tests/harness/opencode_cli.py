"""Install and run the real OpenCode CLI (npm `opencode-ai` 1.18.x) headless, isolated in a temporary HOME,
against a scripted chat-completions server on 127.0.0.1.

What this builds on (measured with 1.18.33; docs/formats.md, OpenCode section):
- The npm package's `bin/opencode.exe` is a placeholder until its postinstall links in the native binary from
  the platform package (`opencode-linux-x64`, ...); where scripts did not run, the platform binary is used.
- Config: `$XDG_CONFIG_HOME/opencode/opencode.json` with a custom provider (`npm: @ai-sdk/openai-compatible`,
  `options.baseURL`), `model`/`small_model` = `<provider>/<model>`, `permission` allowing bash and edit.
- `opencode run --format json` with the prompt on stdin (message arguments are joined with spaces and any
  argument containing a space is wrapped in double quotes; stdin arrives verbatim).
- No network but 127.0.0.1: OPENCODE_DISABLE_MODELS_FETCH (models.dev), OPENCODE_DISABLE_AUTOUPDATE and
  npm_config_offline (OpenCode's background `npm install @opencode-ai/plugin` into its config dir then
  fails at once, logged as a WARN, instead of reaching registry.npmjs.org).
- Sessions land in `$XDG_DATA_HOME/opencode/opencode.db` (SQLite, WAL).
"""

from __future__ import annotations

import json
import platform
import subprocess
from pathlib import Path

from harness.agent_env import agent_env
from harness.npm_tools import OPENCODE_PACKAGE, TOOLS_DIR, npm_bin

PROVIDER = "scripted"


def _works(binary: Path) -> bool:
    try:
        return subprocess.run([str(binary), "--version"], capture_output=True, timeout=60).returncode == 0
    except OSError:
        return False


def opencode_bin() -> Path | None:
    """The OpenCode binary, installing `opencode-ai` into .tools/ on first use; None without npm."""
    wrapper = npm_bin(OPENCODE_PACKAGE, "opencode")
    if wrapper is None:
        return None
    if _works(wrapper):
        return wrapper
    system = {"Linux": "linux", "Darwin": "darwin"}.get(platform.system(), platform.system().lower())
    arch = {"x86_64": "x64", "AMD64": "x64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    for suffix in ("", "-baseline", "-musl", "-baseline-musl"):
        binary = TOOLS_DIR / "node_modules" / f"opencode-{system}-{arch}{suffix}" / "bin" / "opencode"
        if binary.exists() and _works(binary):
            return binary
    raise RuntimeError(f"{wrapper} does not run and no opencode-{system}-{arch}* package in {TOOLS_DIR} has a "
                       "working bin/opencode; delete .tools/node_modules/opencode-ai and run again")


def xdg_dirs(home: Path) -> dict[str, Path]:
    return {"XDG_CONFIG_HOME": home / ".config", "XDG_DATA_HOME": home / ".local" / "share",
            "XDG_STATE_HOME": home / ".local" / "state", "XDG_CACHE_HOME": home / ".cache"}


def data_dir(home: Path) -> Path:
    """Where OpenCode keeps opencode.db for this HOME."""
    return xdg_dirs(home)["XDG_DATA_HOME"] / "opencode"


def write_config(home: Path, base_url: str, model: str) -> Path:
    config = xdg_dirs(home)["XDG_CONFIG_HOME"] / "opencode" / "opencode.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps({
        "$schema": "https://opencode.ai/config.json",
        "provider": {PROVIDER: {"npm": "@ai-sdk/openai-compatible", "name": "Scripted",
                                "options": {"baseURL": base_url, "apiKey": "dummy"},
                                "models": {model: {"name": model}}}},
        "model": f"{PROVIDER}/{model}",
        "small_model": f"{PROVIDER}/{model}",
        "autoupdate": False,
        "share": "disabled",
        "permission": {"bash": "allow", "edit": "allow"},
    }, indent=2))
    return config


def opencode_env(home: Path) -> dict[str, str]:
    return agent_env(home, {
        "OPENCODE_DISABLE_MODELS_FETCH": "1",
        "OPENCODE_DISABLE_AUTOUPDATE": "1",
        "OPENCODE_DISABLE_SHARE": "1",
        "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
        "npm_config_offline": "true",
        **{key: str(path) for key, path in xdg_dirs(home).items()},
    })


def run_opencode(
    opencode: Path, prompt: str, *, home: Path, cwd: Path, base_url: str, model: str,
    extra_args: list[str] | None = None, timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """`opencode run --format json` in cwd with the prompt on stdin; stdout is one JSON event per line."""
    write_config(home, base_url, model)
    args = [str(opencode), "run", "--format", "json", "--print-logs", "--log-level", "WARN", *(extra_args or [])]
    return subprocess.run(args, cwd=cwd, env=opencode_env(home), input=prompt, capture_output=True, text=True,
                          timeout=timeout)
