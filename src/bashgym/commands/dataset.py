"""`bashgym dataset`: build versioned training sets from the store, list, show, print the card, push."""

from __future__ import annotations

from pathlib import Path

import typer

from bashgym.commands.common import (
    ENGINE_OPTION,
    HOME_OPTION,
    JSON_OPTION,
    RAY_ADDRESS_OPTION,
    console,
    engine_line,
    engine_workers,
    err_console,
    open_store,
    print_json,
    progress,
)
from bashgym.errors import BashgymError, ConfigError, choice_error

dataset_app = typer.Typer(help="Build, inspect and publish training datasets.", no_args_is_help=False)


ALLOW_LINT_ERRORS = typer.Option(False, "--allow-lint-errors",
                                 help="Exit 0 even when `dataset check` finds errors in the rows.")


def register(app: typer.Typer) -> None:
    app.add_typer(dataset_app, name="dataset")


@dataset_app.callback(invoke_without_command=True)
def _bare(ctx: typer.Context, home: Path | None = HOME_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Build, inspect and publish training datasets; bare `bashgym dataset` lists them.

    Example: bashgym dataset build --config dataset.yaml
    """
    if ctx.invoked_subcommand is None:
        list_datasets(home=home, as_json=as_json)


@dataset_app.command("build")
def build(
    config: Path | None = typer.Option(None, "--config", "-c", help="dataset.yaml (see docs; defaults otherwise)."),
    name: str | None = typer.Option(None, "--name", help="Dataset name (the id becomes ds-<name>-v<N>)."),
    fmt: str | None = typer.Option(None, "--format", "-f",
                                   help="messages | sharegpt | adp | atif | dpo | kto (default: messages)."),
    tools: str | None = typer.Option(None, "--tools", help="native | bash (bash: edits become shell commands)."),
    segment: str | None = typer.Option(None, "--segment", help="turn | session | window."),
    tier: list[str] = typer.Option([], "--tier", help="Keep only these tiers (repeatable; gold, silver, bronze, "
                                   "failed, unscored, or all). Default: follow the judge (sft: gold+silver; dpo/kto: "
                                   "gold/silver vs bronze/failed)."),
    no_redact: bool = typer.Option(False, "--no-redact",
                                   help="Write secrets and personal data as captured (recorded in the card)."),
    workers: int | None = typer.Option(None, "--workers", help="Processes for the per-session steps (read, redact, dedup keys, decontaminate, shape, format): default 1; with --engine ray, Ray tasks at once (default: every CPU of the cluster). The rows are the same for any number.", show_default=False),
    engine: str = ENGINE_OPTION,
    ray_address: str | None = RAY_ADDRESS_OPTION,
    allow_lint_errors: bool = ALLOW_LINT_ERRORS,
    home: Path | None = HOME_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Build a dataset from the store: select, segment, redact, dedup, decontaminate, shape, split, write,
    then lint the rows (`bashgym dataset check`); lint errors make the command fail unless allowed.

    Example: bashgym dataset build --config dataset.yaml --format dpo
    """
    from bashgym.factory.config import FORMATS, load_config, set_flag

    workers = engine_workers(engine, ray_address, workers)
    cfg = load_config(config)
    if cfg.write.parquet or cfg.write.hf:  # its helper imports `datasets` from now on, beside the imports below
        from bashgym.factory.copy_writer import copy_writer

        copy_writer()
    from bashgym.factory.build import build_dataset

    if fmt is not None:
        if fmt not in FORMATS:
            raise choice_error("--format", fmt, FORMATS)
        cfg = cfg.model_copy(update={"format": fmt})
    if name:
        cfg = cfg.model_copy(update={"name": name})
    if tools:
        set_flag(cfg.shape, "tools", tools, "--tools")
    if segment:
        set_flag(cfg.segment, "mode", segment, "--segment")
    if tier:
        from bashgym.factory.select import ALL_TIERS

        set_flag(cfg.select, "tiers", list(ALL_TIERS) if "all" in tier else tier, "--tier")
    if no_redact:
        err_console.print("[bold red]WARNING: --no-redact: secrets and personal data are written as captured; "
                          "the dataset card says so and `dataset push` will refuse this dataset.[/]")
    store = open_store(home)
    try:
        with progress(transient=True) as bar:
            task = bar.add_task("building", total=None)

            def tick(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total, description=f"sessions → {cfg.format}")

            ran: dict = {}
            record = build_dataset(store, cfg, redact=not no_redact, workers=workers, engine=engine,
                                   ray_address=ray_address, on_progress=tick, on_engine=ran.update)
    finally:
        store.close()
    if as_json:
        print_json({**record, "engine": ran})
    else:
        _print_summary(record)
        console.print(engine_line(ran))
    _fail_on_lint_errors([record], allow_lint_errors)


def _fail_on_lint_errors(records: list[dict], allowed: bool) -> None:
    bad = [(r["id"], r["counts"]["lint"]["errors"]) for r in records if (r["counts"].get("lint") or {}).get("errors")]
    if not bad:
        return
    listed = ", ".join(f"{i} ({n})" for i, n in bad)
    if allowed:
        err_console.print(f"[yellow]lint errors in {listed}, allowed by --allow-lint-errors[/]")
        return
    err_console.print(f"[bold red]lint errors in {listed}[/]: see `bashgym dataset check {bad[0][0]}`; "
                      "fix the sessions or the config and rebuild, or pass --allow-lint-errors")
    raise typer.Exit(1)


def _print_summary(record: dict) -> None:
    from rich.table import Table

    counts = record["counts"]
    rows = counts["rows"]
    console.print(f"[bold]{record['id']}[/] ({record['config']['format']}) → {record['path']}")
    console.print(f"rows: train {rows['train']} · validation {rows['validation']} · test {rows['test']}   "
                  f"from {counts['sessions']} sessions ({counts['sessions_read']} read)")
    chosen = counts.get("selection") or {}
    if chosen:
        why = "default: follows the judge" if chosen["chosen_by"] == "default" else "--tier / dataset.yaml"
        excluded = ", ".join(f"{k} {v}" for k, v in chosen["excluded"].items()) or "none"
        console.print(f"selection: tiers {', '.join(chosen['tiers'])} ({why}); excluded by tier: {excluded}"
                      + (" — run `bashgym judge` to score the unscored" if chosen["excluded"].get("unscored") else ""))
        if chosen["flags"]:
            console.print("  judge flags on the excluded: " + ", ".join(f"{k} {v}" for k, v in chosen["flags"].items()))
    table = Table("step", "in", "kept", "dropped", box=None)
    for st in counts["steps"]:
        dropped = ", ".join(f"{k} {v}" for k, v in st["dropped"].items()) or "-"
        table.add_row(st["name"], str(st["total"]), str(st["kept"]), dropped)
    console.print(table)
    fmt_stats = next((s for s in counts["steps"] if s["name"] == "format"), {})
    unknown = (fmt_stats.get("counters") or {}).get("calls_without_message_id")
    if unknown:
        console.print(f"[yellow]{unknown} example(s) come from sessions stored before bashgym recorded which tool "
                      "calls were made together: their calls are written one after another. Run `bashgym import "
                      "<source> --rederive` and rebuild to keep parallel calls parallel.[/]")
    lint = counts.get("lint")
    if lint is not None:
        found = ", ".join(f"{k} {v}" for k, v in lint["counts"].items()) or "nothing found"
        console.print(f"lint: {lint['errors']} errors, {lint['warnings']} warnings ({found})")
    if record["redacted"]:
        red = counts.get("redaction") or {}
        kinds = ", ".join(f"{k} {v}" for k, v in (red.get("counts") or {}).items()) or "nothing found"
        console.print(f"redacted: {red.get('total', 0)} ({kinds})")
    else:
        console.print("[bold red]NOT REDACTED (--no-redact)[/]")
    console.print(f"card: {record['path']}/README.md")


@dataset_app.command("list")
def list_datasets(home: Path | None = HOME_OPTION, as_json: bool = JSON_OPTION) -> None:
    """List built datasets, newest first.

    Example: bashgym dataset list --json
    """
    from rich.table import Table

    from bashgym.factory.build import is_outdated, rows_version

    store = open_store(home)
    try:
        items = store.list_datasets()
    finally:
        store.close()
    for d in items:
        d["rows_version"], d["outdated"] = rows_version(d), is_outdated(d)
    if as_json:
        print_json(items)
        return
    if not items:
        console.print("no datasets yet — build one with `bashgym dataset build`")
        return
    table = Table("id", "format", "train", "val", "test", "sessions", "redacted", "rows", "created", box=None)
    for d in items:
        rows = d["counts"].get("rows") or {}
        table.add_row(d["id"], d["config"].get("format", "?"), str(rows.get("train", 0)),
                      str(rows.get("validation", 0)), str(rows.get("test", 0)), str(d["counts"].get("sessions", 0)),
                      "yes" if d["redacted"] else "[red]NO[/]",
                      "[red]OUTDATED[/]" if d["outdated"] else "current", d["created_at"][:19])
    console.print(table)
    outdated = [d["id"] for d in items if d["outdated"]]
    if outdated:
        console.print(f"[red]{len(outdated)} dataset(s) were built before training rows followed the session "
                      "exactly (each prompt twice, sequential calls merged)[/]: rebuild them with "
                      "`bashgym dataset rebuild --outdated`")


@dataset_app.command("check")
def check(
    dataset: str | None = typer.Argument(None, help="Dataset id, name (newest version) or id prefix; default newest."),
    allow_lint_errors: bool = ALLOW_LINT_ERRORS,
    home: Path | None = HOME_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Lint a dataset's rows: consecutive duplicate messages, empty assistant turns, unpaired tool calls or
    results, non-string content, leftover secrets (errors), examples over the configured token length
    (warnings). Exits 1 on errors unless --allow-lint-errors.

    Example: bashgym dataset check ds-bashgym-v2
    """
    from rich.table import Table

    from bashgym.factory.lint import lint_dataset, severity

    store = open_store(home)
    try:
        record = store.get_dataset(dataset)
    finally:
        store.close()
    report = lint_dataset(record).to_dict()
    if as_json:
        print_json({"dataset": record["id"], **report})
    else:
        console.print(f"[bold]{record['id']}[/] ({record['config'].get('format', '?')}): {report['rows']} rows, "
                      f"{report['errors']} errors, {report['warnings']} warnings")
        if report["counts"]:
            table = Table("rule", "severity", "count", box=None)
            for rule, n in report["counts"].items():
                table.add_row(rule, severity(rule), str(n))
            console.print(table)
        for f in report["findings"][:20]:
            console.print(f"  {f['severity']} {f['rule']}: {f['split']}.jsonl row {f['row']} "
                          f"({f['example_id']}) {f['where']}: {f['message']}", markup=False)
        if len(report["findings"]) > 20:
            console.print(f"  … {len(report['findings']) - 20} more listed with --json")
    record["counts"]["lint"] = report
    _fail_on_lint_errors([record], allow_lint_errors)


@dataset_app.command("rebuild")
def rebuild(
    datasets: list[str] = typer.Argument(None, help="Dataset ids or names to build again from their recorded config."),
    outdated: bool = typer.Option(False, "--outdated", help="Rebuild every dataset `dataset list` marks OUTDATED."),
    workers: int | None = typer.Option(None, "--workers", help="Processes (or Ray tasks) for the per-session steps, as in `dataset build`.", show_default=False),
    engine: str = ENGINE_OPTION,
    ray_address: str | None = RAY_ADDRESS_OPTION,
    allow_lint_errors: bool = ALLOW_LINT_ERRORS,
    home: Path | None = HOME_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Build datasets again from the config each recorded, as new versions of the same name (the old
    versions stay). Use it after upgrading bashgym: `--outdated` picks every dataset written by an older
    factory.

    Example: bashgym dataset rebuild --outdated
    """
    from bashgym.factory.build import is_outdated, rebuild_dataset

    if not datasets and not outdated:
        raise ConfigError("name the datasets to rebuild, or pass --outdated to rebuild every outdated one")
    workers = engine_workers(engine, ray_address, workers)
    store = open_store(home)
    try:
        records = [store.get_dataset(ref) for ref in datasets or []]
        if outdated:
            # only the newest version of a name: an older version is superseded, not outdated work
            newest: dict[str, dict] = {}
            for d in store.list_datasets():
                newest.setdefault(d["name"], d)
            records += [d for d in newest.values() if is_outdated(d) and d["id"] not in {r["id"] for r in records}]
        built = []
        for old in records:
            ran: dict = {}
            new = rebuild_dataset(store, old, workers=workers, engine=engine, ray_address=ray_address,
                                  on_engine=ran.update)
            built.append({"from": old["id"], **new, "engine": ran})
            if not as_json:
                console.print(f"rebuilt {old['id']} → {new['id']} ({sum(new['counts']['rows'].values())} rows; "
                              f"{engine_line(ran)})")
    finally:
        store.close()
    if as_json:
        print_json(built)
    elif not built:
        console.print("nothing to rebuild: every dataset is current")
    _fail_on_lint_errors(built, allow_lint_errors)


@dataset_app.command("show")
def show(
    dataset: str | None = typer.Argument(None, help="Dataset id, name (newest version) or id prefix; default newest."),
    sample: int = typer.Option(0, "--sample", help="Also print this many training rows."),
    home: Path | None = HOME_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a dataset: counts, filters with drop reasons, redaction, files, sessions.

    Example: bashgym dataset show ds-bashgym-v1 --sample 1
    """
    import orjson

    store = open_store(home)
    try:
        record = store.get_dataset(dataset)
        record["session_ids"] = store.dataset_session_ids(record["id"])
    finally:
        store.close()
    rows = []
    train = Path(record["path"]) / "train.jsonl"
    if sample and train.exists():
        with train.open("rb") as fh:
            for line in fh:
                rows.append(orjson.loads(line))
                if len(rows) >= sample:
                    break
    if as_json:
        print_json({**record, "sample": rows})
        return
    _print_summary(record)
    console.print(f"content hash: {record['content_hash']}   sessions: {len(record['session_ids'])}")
    for row in rows:
        print_json(row)


@dataset_app.command("card")
def card(
    dataset: str | None = typer.Argument(None, help="Dataset id or name; default newest."),
    home: Path | None = HOME_OPTION,
) -> None:
    """Print a dataset's card (README.md).

    Example: bashgym dataset card ds-bashgym-v1 > README.md
    """
    store = open_store(home)
    try:
        record = store.get_dataset(dataset)
    finally:
        store.close()
    path = Path(record["path"]) / "README.md"
    if not path.exists():
        raise BashgymError(f"{record['id']} has no card at {path}; rebuild it with `bashgym dataset build`")
    typer.echo(path.read_text(), nl=False)


@dataset_app.command("push")
def push(
    repo: str = typer.Argument(..., help="Hugging Face dataset repo, e.g. alice/my-agent-traces."),
    dataset: str = typer.Option(..., "--dataset", "-d", show_default=False,
                                help="Dataset id or name (`bashgym dataset list`): the one you reviewed."),
    yes: bool = typer.Option(False, "--yes", "-y",
                             help="Skip the questions (for scripts); a --public push also needs --attest."),
    attest: str | None = typer.Option(
        None, "--attest", help="Your statement that you reviewed a sample and that no names of people or clients "
        "remain, stored in the card, e.g. \"I reviewed 20 sample rows; no names of people or clients remain\"."),
    names: list[str] = typer.Option([], "--names", help="A person, client or company name that must not appear "
                                    "(repeatable; comma-separated ok); every uploaded file is searched."),
    sample: int = typer.Option(3, "--sample", help="Training rows to show for review."),
    allow_identity: bool = typer.Option(False, "--allow-identity",
                                        help="Push even though your names/hostname appear in the data."),
    private: bool = typer.Option(True, "--private/--public", help="Create the repo private (default)."),
    endpoint: str | None = typer.Option(None, "--endpoint", help="Hub endpoint (default: huggingface.co)."),
    token: str | None = typer.Option(None, "--token", envvar="HF_TOKEN", help="Hub token (default: $HF_TOKEN)."),
    home: Path | None = HOME_OPTION,
) -> None:
    """Review a dataset, check the files, attest, and upload them with the card to the Hugging Face Hub.

    Shows the redaction report, sample rows and any place your own names, usernames or hostname still
    appear. Then reads the exact files it will upload and refuses (naming file and line, uploading nothing)
    if one changed since the build or a fresh scan still finds a secret or personal data. You confirm that
    you reviewed the sample and that no names of people or clients remain (or pass --attest with --yes);
    the attestation is written into the card. Datasets built with --no-redact are refused.

    Example: bashgym dataset push alice/agent-traces --dataset ds-bashgym-v2

        bashgym dataset push alice/agent-traces --public --yes --names "Acme Corp" --attest "I reviewed 20 sample rows; no names of people or clients remain"
    """
    from bashgym.factory.publish import (
        PushCheckError,
        attestation_text,
        check_build_hashes,
        check_statement,
        rescan,
        rescan_redactor,
        review,
        scan_names,
        staged_files,
        upload,
        with_attestation,
    )
    from bashgym.store import now_iso

    store = open_store(home)
    try:
        record = store.get_dataset(dataset)
    finally:
        store.close()
    statement = check_statement(attest) if attest is not None else None
    if yes and not private and statement is None:
        raise BashgymError(
            "a --public push needs your attestation, and --yes alone does not give it: run without --yes to "
            "review and answer the questions, or pass --attest \"I reviewed 20 sample rows; no names of people "
            "or clients remain\" after reviewing `bashgym dataset show --sample 20`"
        )
    info = review(record, samples_wanted=sample)
    console.print(f"[bold]Review of {info['dataset']}[/] → {repo} ({'private' if private else 'PUBLIC'})")
    console.print(f"rows: {info['rows']}")
    red = info["redaction"]
    console.print(f"redaction: {red.get('total', 0)} removed — "
                  + (", ".join(f"{k} {v}" for k, v in (red.get("counts") or {}).items()) or "nothing found"))
    for i, row in enumerate(info["samples"], 1):
        console.print(f"sample row {i} of {len(info['samples'])}:" if len(info["samples"]) > 1 else "sample row:")
        print_json(row)
    path = Path(record["path"])
    files = staged_files(path)
    problems = check_build_hashes(record, files)
    data = {name: blob for name, blob in files.items() if name != "README.md"}
    hits = rescan(data, rescan_redactor(record))
    problems += [f"{h['file']}:{h['line']}: {h['kind']}" + (f" in {h['field']}" if h["field"] else "")
                 for h in hits]
    if problems:
        raise PushCheckError(f"refusing to push {record['id']}; nothing was uploaded:\n  " + "\n  ".join(problems)
                             + "\nrebuild the dataset (`bashgym dataset build`); add a pattern the redactor "
                             "missed to redact.extra_patterns in dataset.yaml")
    console.print(f"checked: {len(data)} data files have the build's hashes; a fresh scan found nothing")
    hits = info["identity_hits"]
    if hits:
        console.print(f"[bold red]{len(hits)} mention(s) of your own names / hostname remain:[/]")
        for h in hits:
            console.print(f"  {h['file']}:{h['line']}  {h['term']!r}  …{h['text']}…")
        if not allow_identity:
            raise BashgymError(
                "refusing to push: your names or hostname appear in the data (listed above); add them to "
                "redact.user_names in dataset.yaml and rebuild, or pass --allow-identity if that is intended"
            )
    else:
        console.print("identity scan: no mention of your login, full name, git identity or hostname")
    searched = [n.strip() for item in names for n in item.split(",") if n.strip()]
    if not yes:
        typed = typer.prompt("Names of people, clients or companies that must not appear (comma-separated, "
                             "Enter for none)", default="", show_default=False)
        searched += [n.strip() for n in typed.split(",") if n.strip()]
    found = scan_names(files, searched)
    if found:
        raise PushCheckError("refusing to push: names you listed appear in the data; nothing was uploaded:\n  "
                             + "\n  ".join(f"{h['file']}:{h['line']}  {h['term']!r}" for h in found)
                             + "\nadd them to redact.user_names in dataset.yaml (or a deny list) and rebuild")
    if searched:
        console.print(f"names: none of the {len(searched)} name(s) you listed appears in the files")
    if not yes and statement is None:
        if not typer.confirm(f"Did you read the {len(info['samples'])} sample row(s) above?", default=False):
            raise BashgymError("push cancelled; nothing was uploaded (see more rows with "
                               f"`bashgym dataset show {record['id']} --sample 20`)")
        if not typer.confirm("Do you confirm that no names of people or clients remain in this dataset?",
                             default=False):
            raise BashgymError("push cancelled; nothing was uploaded (add the names to redact.user_names and "
                               "rebuild)")
        statement = "I reviewed the sample rows shown and no names of people or clients remain in this dataset"
    text = attestation_text(when=now_iso()[:19] + "Z", samples=len(info["samples"]), names_checked=len(searched),
                            statement=statement)
    card = with_attestation(files.get("README.md", b"").decode("utf-8", "replace"), text).encode()
    card_hits = rescan({"README.md": card}, rescan_redactor(record)) + scan_names({"README.md": card}, searched)
    if card_hits:
        raise PushCheckError("refusing to push: the card holds "
                             + ", ".join(f"README.md:{h['line']} {h.get('kind') or repr(h.get('term'))}"
                                         for h in card_hits) + "; nothing was uploaded")
    files["README.md"] = card
    if not yes and not typer.confirm(f"Publish {info['dataset']} to {repo}?", default=False):
        raise BashgymError("push cancelled; nothing was uploaded")
    (path / "README.md").write_bytes(card)
    url = upload(record, repo, files, endpoint=endpoint, token=token, private=private)
    console.print(f"pushed {record['id']} to {repo}: {url}")
