"""bashgym's Claude Code skills (plugin/skills/*/SKILL.md) must never drift from the CLI.

Every `bashgym ...` command line a skill shows — in a fenced code block or in inline code — is checked against
the real CLI: the sub-command path must exist and every `--flag` / `-k` it uses must appear in
`bashgym <sub-command> --help`, from the real CLI app. Each SKILL.md also needs
front matter with a spec-valid `name` (equal to its folder) and a `description` that says when to use it.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import typer
import yaml

REPO = Path(__file__).resolve().parents[1]
SKILLS_DIR = REPO / "plugin" / "skills"
SKILL_FILES = sorted(SKILLS_DIR.glob("*/SKILL.md"))
EXPECTED_SKILLS = {"bashgym-capture", "bashgym-curate", "bashgym-train", "bashgym-eval"}

SHELL_OPERATORS = {"|", "||", "&&", ";", ">", ">>", "<", "2>", "2>&1", "&"}
FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_COMMAND = re.compile(r"`(bashgym\s[^`]+)`")
NAME_RULE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class CommandLine:
    skill: str
    line: int
    text: str  # the command from `bashgym` up to the first shell operator

    @property
    def id(self) -> str:
        return f"{self.skill}:{self.line}:{self.text}"


def front_matter(path: Path) -> dict:
    """The YAML between the leading `---` lines, or {} when there is none."""
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        return {}
    end = text.find("\n---", 4)
    if end == -1:
        return {}
    return yaml.safe_load(text[4:end]) or {}


def _command_from_tokens(tokens: list[str]) -> str | None:
    """The `bashgym ...` part of a tokenised shell line (env assignments before it allowed), or None."""
    if "bashgym" not in tokens:
        return None
    rest = tokens[tokens.index("bashgym") + 1:]
    words: list[str] = []
    for tok in rest:
        if tok in SHELL_OPERATORS:
            break
        words.append(tok.strip("[]"))
    words = [w for w in words if w]
    return shlex.join(["bashgym", *words]) if words else None


def _logical_lines(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Join backslash-continued lines; keep the number of the first physical line."""
    out: list[tuple[int, str]] = []
    buf, start = "", 0
    for number, raw in lines:
        line = raw.rstrip()
        if not buf:
            start = number
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        out.append((start, buf + line))
        buf = ""
    if buf:
        out.append((start, buf))
    return out


def commands_in(path: Path) -> list[CommandLine]:
    """Every `bashgym` command shown in a SKILL.md: lines of fenced blocks, then inline code spans."""
    skill = path.parent.name
    found: list[CommandLine] = []
    in_fence = False
    fenced: list[tuple[int, str]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            fenced.append((number, line))
            continue
        for match in INLINE_COMMAND.finditer(line):
            command = _command_from_tokens(shlex.split(match.group(1)))
            if command:
                found.append(CommandLine(skill, number, command))
    for number, line in _logical_lines(fenced):
        line = re.sub(r"^\s*\$\s+", "", line)
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError:
            continue  # not shell (YAML, prose); a real command line always tokenises
        command = _command_from_tokens(tokens)
        if command:
            found.append(CommandLine(skill, number, command))
    return sorted(set(found), key=lambda c: (c.skill, c.line, c.text))


ALL_COMMANDS = [c for path in SKILL_FILES for c in commands_in(path)]


@cache
def cli_tree() -> object:
    from bashgym.cli import app

    return typer.main.get_command(app)


def is_group(node: object) -> bool:
    """Typer vendors click, so test by shape: a group has named sub-commands."""
    return isinstance(getattr(node, "commands", None), dict)


def split_command(words: list[str]) -> tuple[list[str], list[str], str | None]:
    """(sub-command path, flags, problem) for the words after `bashgym`, using the CLI's own command tree."""
    node = cli_tree()
    path: list[str] = []
    rest = list(words)
    while rest and is_group(node) and not rest[0].startswith("-"):
        name = rest[0]
        if name not in node.commands:  # click reads a group's first positional word as a sub-command name
            known = ", ".join(sorted(node.commands)) or "none"
            where = " ".join(["bashgym", *path])
            return path, [], f"`{where}` has no sub-command {name!r} (it has: {known})"
        node = node.commands[name]
        path.append(name)
        rest.pop(0)
    flags = [w.split("=", 1)[0] for w in rest if w.startswith("-") and w != "-"]
    return path, flags, None


def bashgym_executable() -> list[str]:
    exe = Path(sys.executable).parent / "bashgym"
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-c", "from bashgym.cli import main; main()"]


@cache
def help_text(path: tuple[str, ...]) -> tuple[int, str]:
    """`bashgym PATH --help` from the real CLI app, in this process (the same text as the `bashgym` executable
    prints, byte for byte: checked when this replaced 51 subprocesses, ~20 s of CPU)."""
    from typer.testing import CliRunner

    from bashgym.cli import app

    env = {"COLUMNS": "250", "NO_COLOR": "1", "TERM": "dumb"}
    result = CliRunner().invoke(app, [*path, "--help"], env=env)
    return result.exit_code, result.output


def flag_in_help(flag: str, text: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text) is not None


# ---------------------------------------------------------------------------------------------------------------


def test_the_four_skills_exist() -> None:
    assert EXPECTED_SKILLS <= {p.parent.name for p in SKILL_FILES}


def test_every_skill_shows_bashgym_commands() -> None:
    per_skill = {p.parent.name: len(commands_in(p)) for p in SKILL_FILES}
    assert all(count >= 3 for count in per_skill.values()), per_skill


@pytest.mark.parametrize("path", SKILL_FILES, ids=[p.parent.name for p in SKILL_FILES])
def test_skill_has_front_matter_with_name_and_when_to_use_description(path: Path) -> None:
    meta = front_matter(path)
    assert meta, f"{path}: no YAML front matter between leading '---' lines"
    name, description = meta.get("name"), meta.get("description")
    assert isinstance(name, str) and NAME_RULE.match(name) and len(name) <= 64, f"{path}: bad name {name!r}"
    assert name == path.parent.name, f"{path}: name {name!r} differs from its folder {path.parent.name!r}"
    assert isinstance(description, str) and 0 < len(description) <= 1024, f"{path}: description missing or too long"
    assert "use when" in description.lower(), f"{path}: description must say when to use the skill ('Use when ...')"


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=[c.id for c in ALL_COMMANDS])
def test_skill_command_exists_with_its_flags(command: CommandLine) -> None:
    words = shlex.split(command.text)[1:]
    path, flags, problem = split_command(words)
    where = f"{command.skill}/SKILL.md:{command.line}: `{command.text}`"
    assert problem is None, f"{where}: {problem}"
    assert path, f"{where}: no sub-command"
    rc, text = help_text(tuple(path))
    assert rc == 0, f"{where}: `bashgym {' '.join(path)} --help` exited {rc}:\n{text[-2000:]}"
    missing = [f for f in flags if not flag_in_help(f, text)]
    assert not missing, f"{where}: `bashgym {' '.join(path)} --help` does not list {missing}"


def test_extractor_reads_fenced_continued_and_inline_commands(tmp_path: Path) -> None:
    skill = tmp_path / "demo-skill" / "SKILL.md"
    skill.parent.mkdir()
    skill.write_text(
        "---\nname: demo-skill\ndescription: Use when testing.\n---\n"
        "Run `bashgym judge --rescore` first; `bashgym` alone and `bashgym.gym.rewards:fn` are not commands.\n"
        "```bash\n"
        "$ bashgym eval --model m \\\n"
        "    --tasks builtin -k 5  # comment --not-a-flag\n"
        "bashgym sessions show ID --json > /tmp/x.json\n"
        "echo hi\n"
        "```\n",
        encoding="utf-8",
    )
    texts = [c.text for c in commands_in(skill)]
    assert texts == [
        "bashgym judge --rescore",
        "bashgym eval --model m --tasks builtin -k 5",
        "bashgym sessions show ID --json",
    ]


# ------------------------------------------------------------------------------------------ behaviour claims
# What a skill says the program does, checked against the program (not only that its flags exist).

def skill_text(name: str) -> str:
    return (SKILLS_DIR / name / "SKILL.md").read_text(encoding="utf-8")


def prose(name: str) -> str:
    """The skill's text outside front matter, on one line (claims wrap across lines)."""
    text = skill_text(name)
    return " ".join(text[text.find("\n---", 4) + 4:].split())


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=[c.id for c in ALL_COMMANDS])
def test_skill_command_gives_every_required_option(command: CommandLine) -> None:
    """A shown command must run as shown: `dataset push REPO` without `--dataset` is refused, so never shown."""
    words = shlex.split(command.text)[1:]
    path, flags, _ = split_command(words)
    node = cli_tree()
    for name in path:
        node = node.commands[name]
    required = [p.opts for p in getattr(node, "params", []) if p.param_type_name == "option" and p.required]
    missing = [opts[0] for opts in required if not set(opts) & set(flags)]
    assert not missing, f"{command.skill}/SKILL.md:{command.line}: `{command.text}` lacks required {missing}"


def test_capture_skill_lists_the_hook_events_that_are_installed() -> None:
    from bashgym.capture.install import HOOK_EVENTS

    listed = re.search(r"every event type \(([^)]*)\)", prose("bashgym-capture"))
    assert listed, "the capture skill no longer lists the event types to check"
    assert [e.strip() for e in listed.group(1).split(",")] == list(HOOK_EVENTS)


def test_capture_skill_sends_agent_traces_datasets_to_import_claude(tmp_path: Path, fixtures_dir: Path) -> None:
    """HF `format:agent-traces` datasets are Claude Code session files: `import claude DIR` reads them."""
    text = prose("bashgym-capture")
    assert "format:agent-traces" in text and "bashgym import claude ~/Downloads/agent-traces" in text
    downloaded = tmp_path / "agent-traces"
    downloaded.mkdir()
    transcript = next(p for p in (fixtures_dir / "claude").rglob("*.jsonl") if "subagents" not in str(p))
    (downloaded / transcript.name).write_bytes(transcript.read_bytes())
    proc = subprocess.run([*bashgym_executable(), "import", "claude", str(downloaded), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and '"sessions": 1' in proc.stdout, proc.stderr


def test_train_skill_says_resume_needs_the_flag_and_the_trainer_agrees(tmp_path: Path) -> None:
    from bashgym.errors import ConfigError
    from bashgym.store import Store
    from bashgym.train.config import TrainSpec
    from bashgym.train.run import prepare_run

    text = prose("bashgym-train")
    assert "start it again with `--resume`" in text and "resumes from its last checkpoint when started again" not in text
    out = tmp_path / "run"
    (out / "checkpoint-2").mkdir(parents=True)
    (out / "checkpoint-2" / "trainer_state.json").write_text("{}")
    with Store.open() as store:
        with pytest.raises(ConfigError, match="pass --resume"):
            prepare_run(TrainSpec(kind="sft", output_dir=str(out)), store, resume=False)
        _, _, checkpoint = prepare_run(TrainSpec(kind="sft", output_dir=str(out)), store, resume=True)
    assert Path(checkpoint or "").name == "checkpoint-2"


def test_curate_skill_says_one_build_writes_one_format() -> None:
    text = prose("bashgym-curate")
    assert "A build writes one format" in text
    node = cli_tree().commands["dataset"].commands["build"]
    fmt = next(p for p in node.params if "--format" in getattr(p, "opts", []))
    assert not fmt.multiple  # one --format per build


def test_curate_skill_shows_redact_user_and_hostname() -> None:
    assert 'bashgym redact --user "Jane Doe" --hostname build-07.corp' in skill_text("bashgym-curate")


def expand_alternatives(command: CommandLine) -> list[CommandLine]:
    """A synopsis `bashgym import claude|codex PATH` (the README's table) as one command per alternative."""
    words = shlex.split(command.text)
    for i, word in enumerate(words):
        if "|" in word:
            return [c for alt in word.split("|")
                    for c in expand_alternatives(CommandLine(command.skill, command.line,
                                                             shlex.join([*words[:i], alt, *words[i + 1:]])))]
    return [command]


README_COMMANDS = [c for command in commands_in(REPO / "README.md") for c in expand_alternatives(command)]


@pytest.mark.parametrize("command", README_COMMANDS, ids=[f"README.md:{c.line}:{c.text}" for c in README_COMMANDS])
def test_readme_command_exists_with_its_flags(command: CommandLine) -> None:
    words = shlex.split(command.text)[1:]
    path, flags, problem = split_command(words)
    where = f"README.md:{command.line}: `{command.text}`"
    assert problem is None and path, f"{where}: {problem or 'no sub-command'}"
    rc, text = help_text(tuple(path))
    assert rc == 0, f"{where}: `bashgym {' '.join(path)} --help` exited {rc}"
    missing = [f for f in flags if not flag_in_help(f, text)]
    assert not missing, f"{where}: `bashgym {' '.join(path)} --help` does not list {missing}"


@pytest.mark.parametrize("doc", ["README.md", "plugin/skills/bashgym-curate/SKILL.md"])
def test_redaction_names_and_per_project_lists_are_documented(doc: str) -> None:
    """Issue 19: `bashgym redact --user NAME --hostname HOST` and the per-project allow/deny lists, shown as
    commands the CLI takes (checked above) in the README and the curate skill."""
    shown = {c.text for c in commands_in(REPO / doc)}
    assert any(c.startswith("bashgym redact") and "--user" in c and "--hostname" in c for c in shown), shown
    assert any(c.startswith("bashgym config set redact.deny") and "--project" in c for c in shown), shown
    assert any(c.startswith("bashgym config set redact.allow") for c in shown), shown
    assert any(c.startswith("bashgym config set capture.redact true") for c in shown), shown
