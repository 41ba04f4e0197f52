"""Shape tools: keep each agent's native tools, or normalise to a bash-only action space, and truncate
huge tool outputs keeping head and tail.

In bash mode every file edit becomes the shell command that has the same effect (Write → a heredoc,
Edit/MultiEdit/apply_patch → a small `python3 -` script doing the exact string replacement, Read → `cat -n`,
Grep → `grep`, Glob → a globstar `ls`), so a model trained on it acts in the bash gym with one tool.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

from bashgym.factory.config import ShapeConfig
from bashgym.factory.pipeline import Example, PipelineStep
from bashgym.schema import Step, Turn, shell_command

BASH_TOOL = "bash"
def truncate_middle(text: str, limit: int, head_fraction: float = 0.5) -> str:
    """Keep the head and tail of a long text, with the gym's marker saying how much was cut (a model trained on
    these rows meets the same marker in the gym: `bashgym.gym.protocol.cut_middle`).

    >>> truncate_middle("a" * 10 + "b" * 10, 10)
    'aaaaa\\n[... 10 characters of output cut ...]\\nbbbbb'
    """
    from bashgym.gym.protocol import cut_middle  # here: importing bashgym.gym registers the gymnasium env

    return cut_middle(text, limit, head_fraction)


def _delimiter(*bodies: str) -> str:
    lines = {line for b in bodies for line in b.splitlines()}
    delim, i = "EOF", 0
    while delim in lines:
        i += 1
        delim = f"EOF_{i}"
    return delim


def write_command(path: str, content: str) -> str:
    """A command that writes `content` to `path` byte for byte (creating parent directories)."""
    q = shlex.quote(path)
    body = content if content.endswith("\n") else content + "\n"
    delim = _delimiter(body)
    cmd = f"mkdir -p \"$(dirname -- {q})\" && cat > {q} <<'{delim}'\n{body}{delim}"
    if not content.endswith("\n"):
        cmd += f"\ntruncate -s -1 {q}"
    return cmd


def replace_command(path: str, edits: list[tuple[str, str, bool]]) -> str:
    """A command applying exact string replacements (old, new, replace_all) to a file, failing loudly when
    the old text is missing, as the agent's own edit tool would."""
    lines = ["from pathlib import Path", f"p = Path({path!r})", "s = p.read_text()"]
    for old, new, replace_all in edits:
        lines.append(f"old = {old!r}")
        lines.append("assert old in s, 'old text not found in ' + str(p)")
        lines.append(f"s = s.replace(old, {new!r}{'' if replace_all else ', 1'})")
    lines.append("p.write_text(s)")
    return "python3 - <<'EOF'\n" + "\n".join(lines) + "\nEOF"


def apply_patch_command(patch: str) -> str | None:
    """The shell equivalent of a Codex `apply_patch` (*** Begin Patch format), or None if unparsable."""
    commands: list[str] = []
    lines = patch.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("*** Add File: "):
            path, body = line[len("*** Add File: "):].strip(), []
            i += 1
            while i < len(lines) and not lines[i].startswith("*** "):
                body.append(lines[i][1:] if lines[i].startswith("+") else lines[i])
                i += 1
            commands.append(write_command(path, "\n".join(body) + "\n"))
            continue
        if line.startswith("*** Delete File: "):
            commands.append(f"rm -f {shlex.quote(line[len('*** Delete File: '):].strip())}")
        elif line.startswith("*** Update File: "):
            path = line[len("*** Update File: "):].strip()
            move_to = None
            edits: list[tuple[str, str, bool]] = []
            old: list[str] = []
            new: list[str] = []
            i += 1
            while i < len(lines) and not (lines[i].startswith("*** ") and not lines[i].startswith("*** Move to: ")):
                cur = lines[i]
                if cur.startswith("*** Move to: "):
                    move_to = cur[len("*** Move to: "):].strip()
                elif cur.startswith("@@"):
                    if old or new:
                        edits.append(("\n".join(old), "\n".join(new), False))
                    old, new = [], []
                elif cur.startswith("-"):
                    old.append(cur[1:])
                elif cur.startswith("+"):
                    new.append(cur[1:])
                else:
                    text = cur[1:] if cur.startswith(" ") else cur
                    old.append(text)
                    new.append(text)
                i += 1
            if old or new:
                edits.append(("\n".join(old), "\n".join(new), False))
            if edits:
                commands.append(replace_command(path, edits))
            if move_to:
                commands.append(f"mv {shlex.quote(path)} {shlex.quote(move_to)}")
            continue
        i += 1
    return "\n".join(commands) if commands else None


def bash_equivalent(step: Step) -> str | None:
    """The shell command doing what a tool call did, or None when there is no shell equivalent."""
    cmd = shell_command(step)
    if cmd is not None:
        return cmd
    data: Any = step.input if isinstance(step.input, dict) else {}
    name = step.tool_name or ""
    path = data.get("file_path") or data.get("path") or data.get("notebook_path")
    if name == "Write" and path is not None:
        return write_command(path, str(data.get("content") or ""))
    if name == "Edit" and path is not None:
        return replace_command(path, [(data.get("old_string", ""), data.get("new_string", ""),
                                       bool(data.get("replace_all")))])
    if name == "MultiEdit" and path is not None:
        return replace_command(path, [(e.get("old_string", ""), e.get("new_string", ""),
                                       bool(e.get("replace_all"))) for e in data.get("edits") or []])
    if name in ("apply_patch", "ApplyPatch"):
        patch = step.input if isinstance(step.input, str) else data.get("input") or data.get("patch")
        return apply_patch_command(patch) if isinstance(patch, str) else None
    if name == "Read" and path is not None:
        q = shlex.quote(path)
        offset, limit = data.get("offset"), data.get("limit")
        if offset or limit:
            start = int(offset or 1)
            end = start + int(limit) - 1 if limit else "$"
            return f"cat -n {q} | sed -n '{start},{end}p'"
        return f"cat -n {q}"
    if name == "LS" and path is not None:
        return f"ls -la {shlex.quote(path)}"
    if name == "Glob" and data.get("pattern"):
        where = shlex.quote(data.get("path") or ".")
        return f"(cd {where} && shopt -s globstar nullglob && ls -1d {data['pattern']})"
    if name == "Grep" and data.get("pattern"):
        mode = data.get("output_mode") or "files_with_matches"
        flags = {"files_with_matches": "-rlE", "content": "-rnE", "count": "-rcE"}.get(mode, "-rlE")
        if data.get("-i"):
            flags += "i"
        include = f" --include={shlex.quote(data['glob'])}" if data.get("glob") else ""
        return f"grep {flags}{include} -- {shlex.quote(data['pattern'])} {shlex.quote(data.get('path') or '.')}"
    return None


class ShapeTools(PipelineStep):
    """Normalise tool calls (bash mode) and truncate long outputs; counts conversions and truncations."""

    name = "shape"

    def __init__(self, cfg: ShapeConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def run(self, data: Iterable[Example]) -> Iterator[Example]:
        for ex in data:
            self.stats.total += 1
            turns: list[Turn] = []
            dropped = False
            for turn in ex.turns:
                steps = []
                for step in turn.steps:
                    shaped = self.shape_step(step)
                    if shaped is None:
                        if self.cfg.unconvertible == "drop_example":
                            dropped = True
                            break
                        continue
                    steps.append(shaped)
                if dropped:
                    break
                turns.append(replace(turn, steps=steps))
            if dropped:
                self.drop("unconvertible_tool")
                continue
            ex.turns = turns
            self.stats.kept += 1
            yield ex

    def shape_step(self, step: Step) -> Step | None:
        if step.kind != "tool_call":
            return step
        out = step
        if self.cfg.tools == "bash":
            cmd = bash_equivalent(step)
            if cmd is None:
                self.stats.counters[f"unconvertible:{step.tool_name}"] += 1
                if self.cfg.unconvertible != "keep":
                    return None
            else:
                if shell_command(step) is None:
                    self.stats.counters[f"converted:{step.tool_name}"] += 1
                out = replace(step, tool_name=BASH_TOOL, input={"command": cmd},
                              meta={**step.meta, "original_tool": step.tool_name})
        if out.output and len(out.output) > self.cfg.max_output_chars:
            self.stats.counters["outputs_truncated"] += 1
            out = replace(out, output=truncate_middle(out.output, self.cfg.max_output_chars, self.cfg.head_fraction))
        return out
