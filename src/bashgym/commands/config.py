"""`bashgym config`: the user's settings ($BASHGYM_HOME/config.json): capture redaction, redaction lists."""

from __future__ import annotations

from pathlib import Path

import typer

from bashgym.commands.common import HOME_OPTION, JSON_OPTION, console, print_json, use_home

config_app = typer.Typer(help="Show and change bashgym's settings (capture.redact, redact.allow, redact.deny).",
                         invoke_without_command=True)

PROJECT_OPTION = typer.Option(
    None, "--project", help="A project directory: the setting holds for sessions in it (redact.allow/deny).")


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")


@config_app.callback()
def _config(ctx: typer.Context, home: Path | None = HOME_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Bare `bashgym config` lists every setting, its value and what it does, and the per-project lists.

    Example: bashgym config --json
    """
    if ctx.invoked_subcommand is not None:
        return
    from bashgym.settings import KEYS, read_settings, settings_path

    use_home(home)
    data = read_settings()
    if as_json:
        print_json({"path": str(settings_path()), **{k: data.get(k, spec.default) for k, spec in KEYS.items()},
                    "projects": data.get("projects") or {}})
        return
    console.print(f"settings: {settings_path()}", markup=False)
    for name, spec in KEYS.items():
        value = data.get(name, spec.default)
        shown = ", ".join(value) if isinstance(value, list) else str(value).lower()
        console.print(f"  {name} = {shown or '(empty)'}{'' if name in data else '  (default)'}", markup=False)
        console.print(f"      {spec.help}", markup=False, style="dim")
    for root, values in sorted((data.get("projects") or {}).items()):
        for name, value in sorted(values.items()):
            console.print(f"  [{root}] {name} = {', '.join(value) if isinstance(value, list) else value}",
                          markup=False)


@config_app.command("get")
def get(
    key: str = typer.Argument(..., help="The setting, e.g. capture.redact."),
    project: Path | None = PROJECT_OPTION,
    home: Path | None = HOME_OPTION,
) -> None:
    """Print a setting's value in effect (for --project: that project's, else the global one).

    Example: bashgym config get redact.deny --project ~/src/client-x
    """
    from bashgym.settings import get_value

    use_home(home)
    value = get_value(key, project=str(project) if project else None)
    typer.echo(",".join(value) if isinstance(value, list) else str(value).lower())


@config_app.command("set")
def set_(
    key: str = typer.Argument(..., help="The setting: capture.redact, redact.allow or redact.deny."),
    value: str = typer.Argument(..., help="true/false, or a comma-separated list for redact.allow/deny."),
    project: Path | None = PROJECT_OPTION,
    home: Path | None = HOME_OPTION,
) -> None:
    """Change a setting.

    capture.redact true: imports (the hooks' and `bashgym import`) store only redacted text, raw lines
    included. redact.deny / redact.allow: words always removed / values never removed, by every redaction
    (dataset build, `bashgym redact`, capture); with --project only for sessions in that directory.

    Example: bashgym config set capture.redact true

        bashgym config set redact.deny "Acme Corp,acme-internal.net" --project ~/src/acme
    """
    from bashgym.settings import set_value, settings_path

    use_home(home)
    stored = set_value(key, value, project=str(project) if project else None)
    shown = ", ".join(stored) if isinstance(stored, list) else str(stored).lower()
    where = f" for {project}" if project else ""
    console.print(f"{key} = {shown or '(empty)'}{where} (in {settings_path()})", markup=False)
    if key == "capture.redact" and stored:
        from bashgym.capture.events import events_file

        console.print("from now on imports store only redacted text and the hook logs event names only; what "
                      "was stored before stays as it is: redact it with `bashgym import <source> --rederive "
                      "--redact`", markup=False)
        if events_file().exists():
            console.print(f"events logged before are still in {events_file()}: delete that file if it must "
                          "not keep them (`bashgym hooks status` counts from it)", markup=False)


@config_app.command("unset")
def unset(
    key: str = typer.Argument(..., help="The setting to reset to its default."),
    project: Path | None = PROJECT_OPTION,
    home: Path | None = HOME_OPTION,
) -> None:
    """Reset a setting to its default (with --project: remove that project's value).

    Example: bashgym config unset redact.deny --project ~/src/acme
    """
    from bashgym.settings import unset_value

    use_home(home)
    unset_value(key, project=str(project) if project else None)
    console.print(f"{key} reset{f' for {project}' if project else ''}", markup=False)
