"""Every source format bashgym can import, by its CLI name (`bashgym import <name>`)."""

from __future__ import annotations

import importlib

from bashgym.errors import NotFoundError, did_you_mean
from bashgym.sources.base import SourceFormat

# name → "module:class"; a source module is only imported when used.
SOURCES: dict[str, str] = {
    "claude": "bashgym.sources.claude_code:ClaudeCodeSource",
    "codex": "bashgym.sources.codex:CodexSource",
    "gemini": "bashgym.sources.gemini:GeminiSource",
    "opencode": "bashgym.sources.opencode:OpenCodeSource",
    "mini-swe-agent": "bashgym.sources.mini_swe_agent:MiniSweAgentSource",
    "aider": "bashgym.sources.aider:AiderSource",
    "qwen": "bashgym.sources.qwen:QwenSource",
    "cline": "bashgym.sources.cline:ClineSource",
    "copilot": "bashgym.sources.copilot:CopilotSource",
    "openhands": "bashgym.sources.openhands:OpenHandsSource",
}


def get_source(name: str) -> SourceFormat:
    if name not in SOURCES:
        raise NotFoundError(f"unknown source {name!r}{did_you_mean(name, SOURCES)}; known: {', '.join(SOURCES)}")
    module, _, cls = SOURCES[name].partition(":")
    return getattr(importlib.import_module(module), cls)()


def all_sources() -> list[SourceFormat]:
    return [get_source(name) for name in SOURCES]
