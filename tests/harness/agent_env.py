"""The environment every agent CLI runs in under the harness: only what it needs, in its temporary HOME."""

from __future__ import annotations

import os
from pathlib import Path


def agent_env(home: Path, extra: dict[str, str], *, path_first: Path | None = None) -> dict[str, str]:
    """PATH (with `path_first` ahead of it), HOME, bash, a UTF-8 locale and no colour, plus the agent's own
    `extra` variables; nothing else of this process's environment reaches the CLI."""
    path = os.environ.get("PATH", "/usr/bin:/bin")
    return {"PATH": f"{path_first}{os.pathsep}{path}" if path_first else path, "HOME": str(home),
            "SHELL": "/bin/bash", "LANG": "C.UTF-8", "NO_COLOR": "1", **extra}
