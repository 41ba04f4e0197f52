#!/usr/bin/env python3
"""bashgym's offline stand-ins for the verifier toolchain Harbor / terminal-bench 2 test scripts expect.

Installed in every sandbox as `uv`, `uvx`, `pip`, `pip3`, `curl`, `wget`, `apt-get` and `apt` (one file, the name it is
called by picks the tool), first on PATH. The sandbox has no network, so:

- `uvx [-p PY] [-w PKG]... TOOL ARGS` and `uv run [--with PKG]... CMD ARGS` run TOOL/CMD from the sandbox's
  Python when every requested package is installed there (the local, pinned set: pytest, pytest-json-ctrf,
  ...); a package that is not is a clear error, a different version a one-line note.
- `curl`/`wget` of uv's installer (astral.sh/uv) return a script that only writes ~/.local/bin/env (what
  the real installer's users `source`); every other URL goes to the real tool, which has no network.
- `apt-get update` does nothing; `apt-get install P...` succeeds when every P is already on the host and
  says which are not otherwise. Other apt-get commands go to the real tool.
- `pip install P...` (and `uv pip install`) succeeds when every P is installed locally and names the ones
  that are not, instead of retrying a network that is not there; other pip commands go to pip.

Standard library only: it runs in the sandbox, never imports bashgym.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from importlib import metadata

NAME = "bashgym offline"
REAL_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
UV_INSTALLER = re.compile(r"(astral\.sh/uv|github\.com/astral-sh/uv/releases)")
INSTALL_SCRIPT = f"""#!/bin/sh
# uv installer stand-in ({NAME}): uv and uvx are already on PATH, offline
mkdir -p "$HOME/.local/bin"
printf 'export PATH="$HOME/.local/bin:$PATH"\\n' > "$HOME/.local/bin/env"
echo "uv is provided by the sandbox ({NAME}); nothing downloaded"
"""


def say(text: str) -> None:
    print(f"{sys.argv and os.path.basename(sys.argv[0])} ({NAME}): {text}", file=sys.stderr)


def requirement(spec: str) -> tuple[str, str | None]:
    """(distribution name, pinned version or None) of 'pkg', 'pkg==1.2', 'pkg@1.2', 'pkg[extra]>=1'."""
    spec = spec.strip()
    name = re.split(r"[<>=!~@\[;\s]", spec, maxsplit=1)[0]
    pinned = re.search(r"(?:==|@)\s*([A-Za-z0-9.+_-]+)\s*$", spec)
    return name, pinned.group(1) if pinned else None


def require(specs: list[str]) -> None:
    """Exit 2 naming every requested package the sandbox's Python lacks; note version differences."""
    missing = []
    for spec in specs:
        name, pinned = requirement(spec)
        if not name:
            continue
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            missing.append(spec)
            continue
        if pinned and pinned != have:
            say(f"{spec} requested, using {name} {have} installed locally (no network)")
    if missing:
        say(f"not installed in the sandbox's Python and no network to fetch: {', '.join(missing)}; "
            f"install into bashgym's environment: pip install {' '.join(missing)}")
        sys.exit(2)


def run_tool(tool: str, args: list[str]) -> None:
    """exec `tool` from the sandbox's Python (its bin, else `python -m tool`), else from PATH."""
    if tool in ("python", "python3") or re.fullmatch(r"python3\.\d+", tool):
        os.execv(sys.executable, [sys.executable, *args])
    local = os.path.join(os.path.dirname(sys.executable), tool)
    if os.access(local, os.X_OK):
        os.execv(local, [local, *args])
    found = shutil.which(tool)
    if found:
        os.execv(found, [found, *args])
    say(f"{tool}: no such tool in the sandbox")
    sys.exit(127)


VALUE_OPTIONS = {"-p", "--python", "-w", "--with", "--from", "--with-requirements", "--with-editable", "-i",
                 "--index-url", "--extra-index-url", "--index", "--default-index", "--python-preference",
                 "--cache-dir", "--directory", "--project", "--env-file", "-C", "--config-setting"}


def parse(args: list[str]) -> tuple[list[str], str | None, list[str]]:
    """(packages asked for with --with/--from, the --from package, the rest: tool and its arguments)."""
    withs: list[str] = []
    source = None
    while args and args[0].startswith("-"):
        opt, _, inline = args[0].partition("=")
        if opt in VALUE_OPTIONS:
            value = inline if inline else (args[1] if len(args) > 1 else "")
            args = args[1:] if inline else args[2:]
            if opt in ("-w", "--with"):
                withs += [v for v in value.split(",") if v]
            elif opt == "--from":
                source = value
        else:
            args = args[1:]
        if opt == "--":
            break
    return withs, source, args


def uvx(args: list[str]) -> None:
    withs, source, rest = parse(args)
    if not rest:
        say("usage: uvx [-w PKG]... TOOL [ARGS]")
        sys.exit(2)
    tool_spec, tool_args = rest[0], rest[1:]
    tool, _ = requirement(tool_spec)
    require([*withs, source or tool_spec])
    run_tool(tool, tool_args)


def uv(args: list[str]) -> None:
    command, rest = (args[0], args[1:]) if args else ("", [])
    if command in ("--version", "-V", "version", "self"):
        print(f"uv 0.0.0 ({NAME})")
    elif command == "tool" and rest[:1] == ["run"]:
        uvx(rest[1:])
    elif command == "run":
        withs, _, cmd = parse(rest)
        require(withs)
        if not cmd:
            run_tool("python", [])
        run_tool(cmd[0], cmd[1:])
    elif command == "pip" and rest[:1] == ["install"]:
        pip_install(rest[1:])
    elif command in ("add",):
        require([a for a in rest if not a.startswith("-")])
    elif command == "venv":
        make_venv(next((a for a in rest if not a.startswith("-")), ".venv"))
    elif command in ("init", "sync", "lock", "cache", "python"):
        say(f"`uv {command}`: nothing to do offline; the sandbox's Python is used")
    elif command == "pip":
        os.execv(sys.executable, [sys.executable, "-m", "pip", *rest])
    else:
        say(f"`uv {command}` is not available offline; use `uv run`, `uv pip install` or `uvx`")
        sys.exit(2)


def pip_install(options: list[str]) -> None:
    """`pip install` / `uv pip install`: succeed when every package is installed locally, else name them.
    Installs from local paths (`.`, `-e DIR`, a wheel, `--no-index`/`--find-links`) go to the real pip."""
    local = ("-e", "--editable", "--no-index", "-f", "--find-links", "--target", "-t", "--prefix", "--user")
    if any(o.split("=")[0] in local or o.startswith((".", "/", "~")) or o.endswith((".whl", ".tar.gz", ".zip"))
           for o in options):
        os.execv(sys.executable, [sys.executable, "-m", "pip", "install", *options])
    packages = []
    while options:
        if options[0] in ("-r", "--requirement"):
            packages += requirements_file(options[1] if len(options) > 1 else "")
            options = options[2:]
            continue
        if not options[0].startswith("-"):
            packages.append(options[0])
        options = options[1:]
    require(packages)


def pip(args: list[str]) -> None:
    if args[:1] == ["install"]:
        pip_install(args[1:])
        return
    os.execv(sys.executable, [sys.executable, "-m", "pip", *args])


def requirements_file(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as handle:
            return [line.split("#")[0].strip() for line in handle
                    if line.split("#")[0].strip() and not line.startswith("-")]
    except OSError as exc:
        say(f"cannot read {path}: {exc.strerror}")
        sys.exit(2)


def make_venv(path: str) -> None:
    """A 'virtual environment' whose python is the sandbox's (with its packages) and an activate script."""
    bindir = os.path.join(path, "bin")
    os.makedirs(bindir, exist_ok=True)
    for name in ("python", "python3"):
        with open(os.path.join(bindir, name), "w", encoding="utf-8") as handle:
            handle.write(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
        os.chmod(os.path.join(bindir, name), 0o755)
    with open(os.path.join(bindir, "activate"), "w", encoding="utf-8") as handle:
        handle.write(f'export VIRTUAL_ENV="{os.path.abspath(path)}"\nexport PATH="$VIRTUAL_ENV/bin:$PATH"\n'
                     "deactivate() { :; }\n")
    say(f"created {path} (the sandbox's Python, offline)")


def fetch(tool: str, args: list[str]) -> None:
    """curl/wget: uv's installer is answered locally; anything else goes to the real tool."""
    if any(UV_INSTALLER.search(a) for a in args):
        out = None
        for i, a in enumerate(args):
            if a in ("-o", "--output", "-O") and i + 1 < len(args) and not (tool == "wget" and a == "-O"
                                                                            and args[i + 1] == "-"):
                out = args[i + 1]
            elif a.startswith("--output=") or a.startswith("--output-document="):
                out = a.split("=", 1)[1]
        if out and out != "-":
            with open(out, "w", encoding="utf-8") as handle:
                handle.write(INSTALL_SCRIPT)
        else:
            sys.stdout.write(INSTALL_SCRIPT)
        return
    real = shutil.which(tool, path=REAL_PATH)
    if real is None:
        say(f"{tool} is not installed")
        sys.exit(127)
    os.execv(real, [real, *args])


def apt(tool: str, args: list[str]) -> None:
    words = [a for a in args if not a.startswith("-")]
    if words[:1] == ["update"]:
        say("offline: package lists not updated")
        return
    if words[:1] == ["install"]:
        missing = [p for p in words[1:] if not installed(p.split("=")[0])]
        if missing:
            say(f"offline: not installed on this host and cannot be fetched: {' '.join(missing)}")
            sys.exit(100)
        say(f"already installed: {' '.join(words[1:]) or 'nothing asked'}")
        return
    real = shutil.which(tool, path=REAL_PATH)
    if real is None:
        sys.exit(127)
    os.execv(real, [real, *args])


def installed(package: str) -> bool:
    """A Debian package is on the host (its /usr/share/doc entry, or a command of that name)."""
    return os.path.isdir(f"/usr/share/doc/{package}") or shutil.which(package, path=REAL_PATH) is not None


def main() -> None:
    tool = os.path.basename(sys.argv[0])
    args = sys.argv[1:]
    if tool == "uvx":
        uvx(args)
    elif tool == "uv":
        uv(args)
    elif tool in ("curl", "wget"):
        fetch(tool, args)
    elif tool in ("apt-get", "apt"):
        apt(tool, args)
    elif tool in ("pip", "pip3"):
        pip(args)
    else:
        say(f"unknown name {tool}")
        sys.exit(2)


if __name__ == "__main__":
    main()
