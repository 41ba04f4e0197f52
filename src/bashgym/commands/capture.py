"""`bashgym hooks install|uninstall|status`: live capture of Claude Code, Gemini CLI, Codex, Qwen Code and GitHub
Copilot CLI sessions."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer
from rich.table import Table

from bashgym.commands.common import HOME_OPTION, JSON_OPTION, console, print_json, use_home

hooks_app = typer.Typer(help="Install, remove and inspect bashgym's capture hooks (Claude Code, Gemini CLI, Codex, "
                        "Qwen Code, GitHub Copilot CLI).",
                        invoke_without_command=True)

PROJECT_OPTION = typer.Option(False, "--project",
                              help="Use the agent's settings.json of the current directory (.claude/, .gemini/, "
                              ".qwen/, .github/copilot/).")
AGENT_OPTION = typer.Option("claude", "--agent", help="Whose hooks: claude (default), gemini, qwen, copilot, or codex "
                            "(its notify program in ~/.codex/config.toml).")
DRY_RUN_OPTION = typer.Option(False, "--dry-run", help="Print the change to settings.json without writing it.")


@hooks_app.callback()
def _hooks(ctx: typer.Context) -> None:
    """Bare `bashgym hooks` shows the status."""
    if ctx.invoked_subcommand is None:
        status(home=None, as_json=False)


PLUGIN_OPTION = typer.Option(
    False, "--plugin",
    help="For the Claude Code plugin: record this install's interpreter so the plugin's hook finds bashgym "
         "without it on PATH; settings.json is left alone.")


REDACT_OPTION = typer.Option(
    False, "--redact", help="Store only redacted text from now on (sets capture.redact: the event log keeps "
    "event names only, imports keep placeholders, never the secrets).")


@hooks_app.command()
def install(project: bool = PROJECT_OPTION, dry_run: bool = DRY_RUN_OPTION, plugin: bool = PLUGIN_OPTION,
            home: Path | None = HOME_OPTION, redact: bool = REDACT_OPTION, agent: str = AGENT_OPTION) -> None:
    """Merge bashgym's hooks into the agent's settings.json (idempotent; keeps everything else; backs up):
    Claude Code's ~/.claude/settings.json, or with --agent gemini the Gemini CLI's ~/.gemini/settings.json,
    --agent qwen Qwen Code's ~/.qwen/settings.json, --agent copilot the GitHub Copilot CLI's
    ~/.copilot/settings.json (each finished turn's transcript is imported as it is written).

    With the Claude Code plugin installed, use --plugin instead: the plugin brings the hooks, bashgym records
    which Python runs them. Both at once would deliver every event twice.

    With --agent codex the hook becomes Codex's `notify` program in ~/.codex/config.toml (Codex runs one: an
    existing notify of yours is left alone and the install refuses); after each turn the rollout is imported.

    Example: bashgym hooks install --agent gemini --dry-run
    """
    from bashgym.capture import install as inst
    from bashgym.paths import home_dir

    spec = inst.agent_hooks(agent)

    hook_reads = home_dir()  # where the plugin's hook looks, given this shell's environment
    home = use_home(home)
    if redact and not dry_run:
        from bashgym.settings import set_value

        set_value("capture.redact", "true")
        console.print("capture.redact = true: the hooks and imports store only redacted text", markup=False)
    if plugin:
        if project:
            raise typer.BadParameter("--plugin cannot be used with --project (the plugin is installed per user)")
        if agent != "claude":
            raise typer.BadParameter(f"--plugin cannot be used with --agent {agent} (the plugin is Claude Code's)")
        _record_for_plugin(home, dry_run, hook_reads)
        return
    if project and agent == "codex":
        raise typer.BadParameter("--project cannot be used with --agent codex (Codex reads notify from "
                                 "~/.codex/config.toml)")
    path = inst.settings_path(project, agent=agent)
    change = inst.install(path, home=home, dry_run=dry_run, agent=agent)
    if dry_run:
        console.print(change.diff() or f"no change: bashgym hooks already installed in {path}", markup=False)
        return
    if not change.changed:
        console.print(f"bashgym hooks already installed in {path} ({len(spec.events)} events)", markup=False)
        return
    console.print(f"installed bashgym hooks for {len(spec.events)} events in {path}", markup=False)
    console.print(f"  events: {', '.join(spec.events)}")
    console.print(f"  command: {inst.hook_command(home, agent)}", markup=False)
    if change.backup:
        console.print(f"  backup: {change.backup}")


def _record_for_plugin(home: Path | None, dry_run: bool, hook_reads: Path) -> None:
    from bashgym.capture import install as inst

    if home is not None and home != hook_reads.expanduser().resolve():
        console.print(f"  note: the plugin's hook reads $BASHGYM_HOME (else ~/.bashgym) from Claude Code's environment; "
                      f"start claude with BASHGYM_HOME={home} or it will not find this record", markup=False)

    target = inst.plugin_pointer(home)
    if dry_run:
        console.print(f"would record {sys.executable} and {inst.hook_script()} in {target}", markup=False)
        return
    path = inst.record_plugin_interpreter(home)
    console.print(f"recorded {sys.executable} in {path}: the plugin's hook runs bashgym's hook with it", markup=False)
    plugins = inst.installed_plugins()
    console.print(f"  plugin: {', '.join(plugins) if plugins else 'not installed yet (claude plugin install bashgym@bashgym)'}",
                  markup=False)
    doubled = [str(p) for p in (inst.settings_path(False), inst.settings_path(True)) if inst.installed_events(p)]
    if doubled:
        console.print(f"  warning: bashgym hooks are also in {', '.join(doubled)}; with the plugin every event "
                      "arrives twice: run bashgym hooks uninstall", markup=False)


@hooks_app.command()
def uninstall(project: bool = PROJECT_OPTION, dry_run: bool = DRY_RUN_OPTION, agent: str = AGENT_OPTION) -> None:
    """Remove bashgym's hooks (and only those) from the agent's settings.json.

    Example: bashgym hooks uninstall --agent gemini
    """
    from bashgym.capture import install as inst

    path = inst.settings_path(project, agent=agent)
    change = inst.uninstall(path, dry_run=dry_run, agent=agent)
    if dry_run:
        console.print(change.diff() or f"no change: no bashgym hooks in {path}", markup=False)
    elif change.changed:
        console.print(f"removed bashgym hooks from {path}" + (f" (backup: {change.backup})" if change.backup else ""))
    else:
        console.print(f"no bashgym hooks in {path}")


@hooks_app.command()
def status(home: Path | None = HOME_OPTION, as_json: bool = JSON_OPTION) -> None:
    """What is installed, how many events arrived per event type, and the last hook error.

    Example: bashgym hooks status --json
    """
    from bashgym.capture import events
    from bashgym.capture import install as inst

    home = use_home(home)
    places = {"user": inst.settings_path(False), "project": inst.settings_path(True)}
    installed = {name: sorted(inst.installed_events(path)) for name, path in places.items()}
    stats = events.event_stats()
    errors = events.last_errors()
    plugin_command, plugin_how = inst.plugin_hook_target(home)
    agents = {}
    for name, spec in inst.AGENTS.items():
        where = {"user": inst.settings_path(False, agent=name), "project": inst.settings_path(True, agent=name)}
        agents[name] = {
            "installed": {k: {"path": str(p), "events": sorted(inst.installed_events(p, name))}
                          for k, p in where.items()},
            "expected_events": list(spec.events),
            "events_total": sum(stats.by_agent.get(name, {}).values()),
            "events": dict(sorted(stats.by_agent.get(name, {}).items())),
            "sessions_seen": len(stats.sessions_by_agent.get(name, ())),
        }
    report = {
        "installed": {name: {"path": str(places[name]), "events": evs} for name, evs in installed.items()},
        "agents": agents,
        "plugin": {"installed": inst.installed_plugins(), "hook_command": plugin_command, "hook_found": plugin_how},
        "expected_events": list(inst.HOOK_EVENTS),
        "events_total": stats.total,
        "events": dict(sorted(stats.by_event.items())),
        "sessions_seen": len(stats.sessions),
        "unreadable_lines": stats.unreadable,
        "last_event_at": stats.last_event_at,
        "events_file": str(events.events_file()),
        "last_error": errors[-1] if errors else None,
        "recent_errors": errors,
    }
    if as_json:
        print_json(report)
        return
    for name, evs in installed.items():
        missing = [e for e in inst.HOOK_EVENTS if e not in evs]
        state = "installed" if not missing else ("not installed" if not evs else f"partial (missing {', '.join(missing)})")
        console.print(f"{name:8} {places[name]}: {state}")
    if report["plugin"]["installed"]:
        console.print(f"plugin   {', '.join(report['plugin']['installed'])}: hook {plugin_how}", markup=False)
    for name, entry in agents.items():
        if name == "claude":
            continue
        for where, found in entry["installed"].items():
            if found["events"] or entry["events_total"]:
                missing = [e for e in entry["expected_events"] if e not in found["events"]]
                state = "installed" if not missing else ("not installed" if not found["events"]
                                                         else f"partial (missing {', '.join(missing)})")
                console.print(f"{name} {where:8} {found['path']}: {state}", markup=False)
    table = Table(title=f"events received ({stats.total} total, {len(stats.sessions)} sessions)")
    table.add_column("agent")
    table.add_column("event")
    table.add_column("count", justify="right")
    for event in inst.HOOK_EVENTS:
        table.add_row("claude", event, str(stats.by_agent.get("claude", {}).get(event, 0)))
    for name, entry in agents.items():
        if name != "claude" and (entry["events_total"] or any(f["events"] for f in entry["installed"].values())):
            for event in entry["expected_events"]:
                table.add_row(name, event, str(entry["events"].get(event, 0)))
    console.print(table)
    if stats.last_event_at:
        console.print(f"last event: {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(stats.last_event_at))}")
    console.print(f"last hook error: {errors[-1] if errors else 'none'}", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(hooks_app, name="hooks")
