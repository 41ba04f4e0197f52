"""Tasks are data: one directory per task, read from one of three layouts.

- ``bashgym`` (the builtin suite, src/bashgym/gym/tasks/builtin/<id>/): task.yaml (id, category,
  instruction, optional timeout_s, max_steps, test_timeout_s, disk_mb), optional setup.sh and files/, solution.sh,
  tests/test.sh (exit code 0 = pass).
- ``terminal-bench``: task.yaml (instruction, category, max_agent_timeout_sec, max_test_timeout_sec, ...),
  Dockerfile (its COPY lines lay out the workspace, WORKDIR is where it lives, normally /app), solution.sh,
  run-tests.sh and tests/ (staged at /tests, $TEST_DIR). run-tests.sh scripts that bootstrap pytest from the
  network (uv, pip install, apt-get, curl) are replaced by their last line's meaning: pytest on
  $TEST_DIR/test_outputs.py with the sandbox's Python (which has pytest).
- ``harbor``: instruction.md, task.toml ([agent]/[verifier] timeout_sec, [environment] storage_mb,
  [metadata] category),
  environment/Dockerfile (COPY/WORKDIR as above), solution/solve.sh, tests/test.sh writing a reward to
  /logs/verifier/reward.txt (a number) or reward.json ({"reward": x} or named numbers).

`load_task(path_or_id)` and `load_suite(name_or_path)` return `Task` objects; the verifier and the env take
them. Task ids of the builtin suite are directory names. `scan_suite` judges each directory on its own (a
broken one is reported beside the good ones, never stops them): what `gym check` and `gym list` use.

A Dockerfile WORKDIR under /app (``/app/repo``) becomes the task's `workdir` (commands and tests start there);
``needs`` names what the host lacks to run a task faithfully (an image ``FROM`` another toolchain, apt
packages not installed here): such a task is reported up front, not run into a failure.
"""

from __future__ import annotations

import posixpath
import re
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bashgym.errors import ConfigError, NotFoundError, did_you_mean

BUILTIN_DIR = Path(__file__).parent / "tasks" / "builtin"
# Named suites shipped with bashgym. "builtin" is the eval suite (the factory decontaminates against it);
# "practice" holds different tasks for rollouts meant to become training data.
SUITES = {"builtin": BUILTIN_DIR, "practice": Path(__file__).parent / "tasks" / "practice"}
CATEGORIES = ("files", "text", "git", "processes", "archives", "permissions", "scripting", "debugging")
FORMATS = ("bashgym", "terminal-bench", "harbor")
APP = "/app"  # where the sandbox binds the workspace (as Harbor's images lay tasks out)
# Base images whose userland the host (Debian/Ubuntu with Python) stands in for; a FROM of anything else
# (a Java, gcc, Go, Rust, Node image) brings a toolchain the sandbox does not have.
_HOST_LIKE_IMAGES = re.compile(r"^(docker\.io/)?(library/)?(ubuntu|debian|python|buildpack-deps|bash|busybox)(:|@|$)"
                               r"|^ghcr\.io/laude-institute/t-bench/(ubuntu|python)[^/]*(:|@|$)")
# Toolchain images the host stands in for when it has their main command (the sandbox sees the host's /usr).
_IMAGE_TOOLS = {"gcc": "gcc", "golang": "go", "openjdk": "java", "eclipse-temurin": "java", "amazoncorretto": "java",
                "maven": "mvn", "gradle": "gradle", "rust": "cargo", "node": "node", "ruby": "ruby", "perl": "perl",
                "php": "php", "swift": "swift", "haskell": "ghc", "julia": "julia", "r-base": "R"}
_APT_INSTALL = re.compile(r"\bapt(?:-get)?\s+(?:-\S+\s+)*install\s+([^;&|]*)")
_NETWORK_BOOTSTRAP = re.compile(r"\b(uv (init|add|venv|pip|run)|pip3? install|apt(-get)? |curl |wget )")
_BASHGYM_KEYS = {"id", "category", "instruction", "timeout_s", "max_steps", "test_timeout_s", "disk_mb", "tags",
                 "difficulty"}


@dataclass
class Task:
    """One task. ``copies`` lists (host path, workspace-relative destination) laid into the workspace;
    ``setup`` is a script run in the workspace before the episode; ``solution`` the reference solution;
    ``tests`` the directory staged at /tests for the verifier; ``test_script`` the script inside it (or,
    for terminal-bench, beside the task) that decides; ``reward_file`` says a Harbor-style reward file
    (under /logs/verifier) carries the verdict instead of the exit code; ``needs_app`` says commands or
    tests use absolute /app, /tests or /logs paths (only the bubblewrap layer offers them); ``disk_mb``
    overrides the episode's disk limit (`Limits.disk_mb`, 1 GiB by default) when set; ``workdir`` is where
    commands and tests start (the Dockerfile's WORKDIR, /app or below); ``needs`` says what image or
    packages the host lacks for this task ("" when it has everything)."""

    id: str
    category: str
    instruction: str
    path: Path
    format: str = "bashgym"
    timeout_s: float = 300.0
    max_steps: int = 30
    test_timeout_s: float = 60.0
    disk_mb: int | None = None
    setup: Path | None = None
    solution: Path | None = None
    tests: Path | None = None
    test_script: str = "test.sh"
    test_command: str | None = None
    reward_file: bool = False
    needs_app: bool = False
    workdir: str = "/app"
    needs: str = ""
    copies: list[tuple[Path, str]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"Task({self.id!r}, category={self.category!r}, format={self.format!r})"


def detect_format(path: Path) -> str:
    """Which layout a task directory uses ('bashgym', 'terminal-bench' or 'harbor')."""
    if (path / "instruction.md").is_file() and (path / "tests" / "test.sh").is_file():
        return "harbor"
    if (path / "task.yaml").is_file():
        data = _read_yaml(path / "task.yaml")
        if "id" in data and "category" in data and (path / "tests" / "test.sh").is_file():
            return "bashgym"
        if (path / "run-tests.sh").is_file() or (path / "Dockerfile").is_file():
            return "terminal-bench"
        return "bashgym"
    if (path / "instruction.md").is_file():
        raise ConfigError(f"{path}: tests/test.sh is missing (a Harbor task's verifier)")
    raise NotFoundError(f"{path} is not a task directory: it has neither task.yaml (bashgym, terminal-bench) "
                        "nor instruction.md + tests/test.sh (Harbor)")


def load_task(ref: str | Path) -> Task:
    """A task from a directory path, or a task id of the builtin suite."""
    path = Path(ref)
    if not path.is_dir():
        candidate = BUILTIN_DIR / str(ref)
        if candidate.is_dir():
            path = candidate
        else:
            ids = [p.name for p in BUILTIN_DIR.iterdir() if p.is_dir()] if BUILTIN_DIR.is_dir() else []
            raise NotFoundError(f"no task {str(ref)!r}: not a directory and not a builtin task id"
                                f"{did_you_mean(str(ref), ids)}; `bashgym gym list` shows the builtin ids")
    fmt = detect_format(path)
    loader = {"bashgym": _load_bashgym, "terminal-bench": _load_terminal_bench, "harbor": _load_harbor}[fmt]
    return loader(path.resolve())


def load_suite(name_or_path: str | Path = "builtin") -> list[Task]:
    """Every task of a suite: "builtin", a directory of task directories, or one task directory. Strict:
    the first broken task raises (`scan_suite` reports it beside the others instead)."""
    tasks, bad = scan_suite(name_or_path)
    if bad:
        raise ConfigError(bad[0][1])
    return tasks


def scan_suite(name_or_path: str | Path = "builtin") -> tuple[list[Task], list[tuple[Path, str]]]:
    """The tasks of a suite, each judged on its own: (tasks that loaded, [(directory, what is wrong)]).
    Files beside the task directories (a README.md) and directories without a task marker are ignored;
    a missing suite or one with no task at all raises NotFoundError."""
    root = SUITES.get(str(name_or_path)) or Path(name_or_path)
    if not root.is_dir():
        raise NotFoundError(
            f"no task suite {str(name_or_path)!r}: use {' or '.join(repr(n) for n in SUITES)} or a directory of tasks"
        )
    dirs = [root] if _is_task_dir(root) else [p for p in sorted(root.iterdir()) if p.is_dir() and _is_task_dir(p)]
    if not dirs:
        raise NotFoundError(f"{root} holds no task directories (task.yaml or instruction.md + tests/test.sh)")
    tasks: list[Task] = []
    bad: list[tuple[Path, str]] = []
    for path in dirs:
        try:
            tasks.append(load_task(path))
        except (ConfigError, NotFoundError, OSError, UnicodeDecodeError) as exc:
            bad.append((path, str(exc)))
    return tasks, bad


def _is_task_dir(path: Path) -> bool:
    return (path / "task.yaml").is_file() or (path / "instruction.md").is_file()


# --------------------------------------------------------------------------------------------- loaders


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def _require(data: dict, key: str, where: Path) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: field {key!r} is missing or empty")
    return value.strip()


def _load_bashgym(path: Path) -> Task:
    meta = path / "task.yaml"
    data = _read_yaml(meta)
    for key in data:
        if key not in _BASHGYM_KEYS:
            raise ConfigError(f"{meta}: unknown key {key!r}{did_you_mean(key, _BASHGYM_KEYS)}")
    category = _require(data, "category", meta)
    if category not in CATEGORIES:
        raise ConfigError(f"{meta}: category {category!r} is not one of {', '.join(CATEGORIES)}"
                          f"{did_you_mean(category, CATEGORIES)}")
    if not (path / "tests" / "test.sh").is_file():
        raise ConfigError(f"{path}: tests/test.sh is missing (its exit code is the verdict)")
    files = path / "files"
    return Task(
        id=str(data.get("id") or path.name), category=category, instruction=_require(data, "instruction", meta),
        path=path, format="bashgym", timeout_s=float(data.get("timeout_s", 300)),
        max_steps=int(data.get("max_steps", 30)), test_timeout_s=float(data.get("test_timeout_s", 60)),
        disk_mb=_disk_mb(data.get("disk_mb"), meta, "disk_mb"),
        setup=_file(path / "setup.sh"), solution=_file(path / "solution.sh"), tests=path / "tests",
        copies=[(files, ".")] if files.is_dir() else [], tags=list(data.get("tags") or []),
    )


def _load_terminal_bench(path: Path) -> Task:
    meta = path / "task.yaml"
    data = _read_yaml(meta)
    instruction = data.get("instruction") or (data.get("descriptions") or [{}])[0].get("description")
    if not instruction:
        raise ConfigError(f"{meta}: field 'instruction' is missing or empty")
    copies, workdir = _dockerfile_layout(path / "Dockerfile", path)
    _check_workdir(path, workdir)
    run_tests = path / "run-tests.sh"
    command = None
    if run_tests.is_file() and not _NETWORK_BOOTSTRAP.search(run_tests.read_text(encoding="utf-8")):
        command = None  # the script works offline: stage and run it as is
    elif (path / "tests" / "test_outputs.py").is_file():
        # -P: the workspace (cwd) is not put on sys.path, as with upstream's `pytest` script, so a pytest.py
        # the agent left in /app cannot stand in for pytest
        command = 'python -P -m pytest "$TEST_DIR/test_outputs.py" -rA'
    tests = path / "tests" if (path / "tests").is_dir() else None
    return Task(
        id=path.name, category=str(data.get("category") or "terminal-bench"), instruction=str(instruction).strip(),
        path=path, format="terminal-bench", timeout_s=float(data.get("max_agent_timeout_sec", 360)),
        max_steps=int(data.get("max_steps", 50)), test_timeout_s=float(data.get("max_test_timeout_sec", 60)),
        solution=_file(path / "solution.sh"), tests=tests, test_script="run-tests.sh", test_command=command,
        needs_app=True, workdir=workdir or APP, needs=_needs(path / "Dockerfile"), copies=copies,
        tags=list(data.get("tags") or []),
    )


def _load_harbor(path: Path) -> Task:
    config: dict = {}
    toml_path = path / "task.toml"
    if toml_path.is_file():
        try:
            config = tomllib.loads(toml_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{toml_path}: invalid TOML: {exc}") from exc
    metadata = config.get("metadata") or {}
    dockerfile = path / "environment" / "Dockerfile"
    copies, workdir = _dockerfile_layout(dockerfile, dockerfile.parent)
    _check_workdir(path, workdir)
    name = (config.get("task") or {}).get("name") or path.name
    return Task(
        id=str(name).split("/")[-1], category=str(metadata.get("category") or "harbor"),
        instruction=(path / "instruction.md").read_text(encoding="utf-8").strip(), path=path, format="harbor",
        timeout_s=float((config.get("agent") or {}).get("timeout_sec", 600)),
        test_timeout_s=float((config.get("verifier") or {}).get("timeout_sec", 120)),
        disk_mb=_disk_mb((config.get("environment") or {}).get("storage_mb"), toml_path, "[environment] storage_mb"),
        solution=_file(path / "solution" / "solve.sh"), tests=path / "tests", test_script="test.sh",
        reward_file=True, needs_app=True, workdir=workdir or APP, needs=_needs(dockerfile), copies=copies,
        tags=list(metadata.get("tags") or []),
    )


def _check_workdir(path: Path, workdir: str | None) -> None:
    """The workspace is bound at /app: a WORKDIR at or below it is followed, one elsewhere is refused."""
    if workdir is None or workdir == APP or workdir.startswith(APP + "/"):
        if workdir and ".." in workdir.split("/"):
            raise ConfigError(f"{path}: its Dockerfile's WORKDIR {workdir} leaves /app")
        return
    raise ConfigError(f"{path}: its Dockerfile sets WORKDIR {workdir}; bashgym binds the workspace at /app "
                      "(WORKDIR /app or below it), so this task needs Docker")


def _dockerfile_layout(dockerfile: Path, context: Path) -> tuple[list[tuple[Path, str]], str | None]:
    """The (source, workspace destination) pairs of a Dockerfile's COPY/ADD lines into its WORKDIR (/app),
    and the final WORKDIR. Copies to other places, URLs and --from stages are ignored."""
    if not dockerfile.is_file():
        return [], None
    copies: list[tuple[Path, str]] = []
    workdir: str | None = None
    lines = dockerfile.read_text(encoding="utf-8").replace("\\\n", " ").splitlines()
    for line in lines:
        parts = line.strip().split()
        if not parts:
            continue
        op = parts[0].upper()
        if op == "WORKDIR" and len(parts) > 1:
            workdir = parts[1] if parts[1].startswith("/") else f"{(workdir or '').rstrip('/')}/{parts[1]}"
            workdir = workdir.rstrip("/") or "/"
        elif op in ("COPY", "ADD") and len(parts) >= 3:
            args = [p for p in parts[1:] if not p.startswith("--")]
            if any(p.startswith("--from") for p in parts[1:]) or len(args) < 2:
                continue
            *sources, dest = args
            base = workdir or "/app"
            target = posixpath.normpath(dest if dest.startswith("/") else f"{base.rstrip('/')}/{dest}")
            if not (target == "/app" or target.startswith("/app/")):
                continue
            rel = target[len("/app"):].lstrip("/") or "."
            for src in sources:
                if "://" in src:
                    continue
                matches = ([p for p in sorted(context.iterdir()) if p.name not in _TASK_FILES]
                           if src in (".", "./") else sorted(context.glob(src.rstrip("/"))))
                for match in matches:
                    whole = src in (".", "./")
                    if match.is_dir() and not whole:
                        copies.append((match, rel))
                    else:
                        into_dir = (whole or dest.endswith(("/", "/.")) or dest == "." or len(sources) > 1
                                    or rel == ".")
                        copies.append((match, _join(rel, match.name) if into_dir else rel))
    return copies, workdir


_TASK_FILES = {"Dockerfile", "docker-compose.yaml", "task.yaml", "task.toml", "tests", "solution.sh",
               "solution", "run-tests.sh", "instruction.md", "environment"}


def _join(rel: str, name: str) -> str:
    return name if rel in (".", "") else f"{rel}/{name}"


def _disk_mb(value: object, where: Path, key: str) -> int | None:
    """A task's disk limit in MiB (None: the default), or a ConfigError naming the file and key."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 1:
        raise ConfigError(f"{where}: {key} must be a positive number of MiB, got {value!r}")
    return int(value)


def _file(path: Path) -> Path | None:
    return path if path.is_file() else None


def _needs(dockerfile: Path) -> str:
    """What the task's image has that this host lacks: "needs image X" for a FROM of another toolchain's
    image, "packages Y" for apt packages not installed here; "" when the host can stand in for the image."""
    if not dockerfile.is_file():
        return ""
    text = dockerfile.read_text(encoding="utf-8", errors="replace").replace("\\\n", " ")
    images = [line.split()[1] for line in text.splitlines()
              if line.strip().upper().startswith("FROM ") and len(line.split()) > 1]
    stages = {line.split()[-1] for line in text.splitlines()
              if line.strip().upper().startswith("FROM ") and " AS " in line.upper()}
    foreign = [i for i in images[-1:] if i not in stages and not _HOST_LIKE_IMAGES.match(i.lower())
               and not _host_has_toolchain(i)]
    wanted: list[str] = []
    for match in _APT_INSTALL.finditer(text):
        for word in match.group(1).split():
            name = word.split("=")[0]
            if not word.startswith("-") and re.fullmatch(r"[a-z0-9][a-z0-9+.-]+", name) and name not in wanted:
                wanted.append(name)
    installed = _installed_debs()
    missing = [p for p in wanted if p not in installed and shutil.which(p) is None]
    parts = []
    if foreign:
        parts.append(f"needs image {foreign[0]}")
    if missing:
        parts.append(f"packages {' '.join(missing)}")
    return " / ".join(parts)


def _host_has_toolchain(image: str) -> bool:
    """A toolchain image (gcc:13, eclipse-temurin:21) whose main command the host has too."""
    repo = image.lower().split("@")[0].rsplit("/", 1)[-1].split(":")[0]
    tool = _IMAGE_TOOLS.get(repo)
    return tool is not None and shutil.which(tool) is not None


_DEBS: set[str] | None = None


def _installed_debs() -> set[str]:
    """Debian packages installed on this host (read once from dpkg's status file; empty elsewhere)."""
    global _DEBS
    if _DEBS is None:
        _DEBS = set()
        try:
            text = Path("/var/lib/dpkg/status").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return _DEBS
        for block in text.split("\n\n"):
            name = re.search(r"^Package: (\S+)", block, re.M)
            if name and re.search(r"^Status: install ok installed", block, re.M):
                _DEBS.add(name.group(1))
    return _DEBS
