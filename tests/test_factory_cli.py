"""`bashgym dataset …` through the real CLI in subprocesses: build with a summary, list/show/card, and the
push review: unredacted data refused, the user's own names found, confirmation required, and an upload
to a Hub-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bashgym.store import Store
from factory_sessions import save, session, topic_turn

SECRET = "sk-ant-api03-" + "Q7vK" * 20


def cli(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bashgym.cli", *args], capture_output=True, text=True,
                          input=input, timeout=300, env={**os.environ, "COLUMNS": "200"})


@pytest.fixture()
def sessions(store: Store) -> Store:
    topics = ["nginx", "redis", "kafka", "mysql", "spark", "mongo"]
    ss = [session(f"s{i}", [topic_turn(t, i)]) for i, t in enumerate(topics)]
    ss[0].turns[0].steps[1].output = f"ANTHROPIC_API_KEY={SECRET}\n"
    save(store, *ss)
    return store


def test_build_prints_summary_and_is_listed(sessions: Store, tmp_path: Path) -> None:
    config = tmp_path / "dataset.yaml"
    config.write_text("name: cli\nselect:\n  min_tool_calls: 1\nsplit: {train: 0.5, validation: 0.25, test: 0.25}\n")
    out = cli("dataset", "build", "--config", str(config), "--format", "sharegpt", "--tier", "all")
    assert out.returncode == 0, out.stderr
    assert "ds-cli-v1 (sharegpt)" in out.stdout and "rows: train 2 · validation 2 · test 2" in out.stdout
    assert "select_examples" in out.stdout and "redacted: " in out.stdout
    listed = json.loads(cli("dataset", "list", "--json").stdout)
    assert [d["id"] for d in listed] == ["ds-cli-v1"]
    bare = cli("dataset")
    assert "ds-cli-v1" in bare.stdout and "sharegpt" in bare.stdout
    shown = json.loads(cli("dataset", "show", "cli", "--sample", "1", "--json").stdout)
    assert shown["id"] == "ds-cli-v1" and len(shown["sample"]) == 1 and len(shown["session_ids"]) == 6
    card = cli("dataset", "card", "ds-cli-v1").stdout
    assert card.startswith("---\nlicense: other") and "# ds-cli-v1" in card
    assert SECRET not in (Path(shown["path"]) / "train.jsonl").read_text()


def test_config_typo_names_the_closest_key(sessions: Store, tmp_path: Path) -> None:
    config = tmp_path / "dataset.yaml"
    config.write_text("name: x\nsegment:\n  mod: window\n")
    out = cli("dataset", "build", "--config", str(config))
    assert out.returncode == 1
    assert "unknown key 'mod'" in out.stderr and 'did you mean "mode"' in out.stderr
    out = cli("dataset", "build", "--format", "sharegtp")
    assert out.returncode == 1 and 'did you mean "sharegpt"' in out.stderr
    for flag, value, choices in (("--tier", "platinum", "gold, silver, bronze, failed, unscored"),
                                 ("--segment", "sentence", "turn, session, window")):
        out = cli("dataset", "build", flag, value)
        assert out.returncode == 1 and out.stderr == f"error: {flag}: got {value!r}, expected one of {choices}\n"


def test_no_redact_is_loud_and_push_refuses_it(sessions: Store) -> None:
    out = cli("dataset", "build", "--name", "raw", "--no-redact", "--tier", "all")
    assert out.returncode == 0 and "--no-redact" in out.stderr and "NOT REDACTED" in out.stdout
    assert "WARNING: THIS DATASET WAS BUILT WITH `--no-redact`" in cli("dataset", "card", "raw").stdout
    push = cli("dataset", "push", "me/raw", "--dataset", "raw", "--yes", "--endpoint", "http://127.0.0.1:9")
    assert push.returncode == 1 and "publishing unredacted data is refused" in push.stderr


def test_push_review_finds_own_name_and_needs_confirmation(store: Store) -> None:
    # The user's git identity (global config in this test's temporary HOME), mentioned in a prompt.
    subprocess.run(["git", "config", "--global", "user.name", "Ada Lovelace"], check=True)
    leaky = session("leak", [topic_turn("nginx", 1)])
    leaky.turns[0].prompt += " then ping ada lovelace on the team chat"
    save(store, leaky, session("ok", [topic_turn("redis", 2)]))
    assert cli("dataset", "build", "--name", "n", "--format", "messages", "--tier", "all").returncode == 0
    out = cli("dataset", "push", "me/n", "--dataset", "n", "--yes", "--endpoint", "http://127.0.0.1:9")
    assert out.returncode == 1 and "your names or hostname appear" in out.stderr
    assert "'ada lovelace'" in out.stdout and "mention(s)" in out.stdout
    # names to search for (none), read the sample (yes), no names remain (yes), publish (no)
    out = cli("dataset", "push", "me/n", "--dataset", "n", "--allow-identity", "--endpoint", "http://127.0.0.1:9",
              input="\ny\ny\nn\n")
    assert out.returncode == 1 and "push cancelled; nothing was uploaded" in out.stderr
    assert "Publish ds-n-v1 to me/n?" in out.stdout and "sample row" in out.stdout


def test_push_uploads_card_and_data_to_a_local_hub(sessions: Store) -> None:
    from factory_hub import FakeHub

    assert cli("dataset", "build", "--name", "pub", "--tier", "all").returncode == 0
    record = json.loads(cli("dataset", "show", "pub", "--json").stdout)
    # the hub client is offline in tests; this one talks to 127.0.0.1 only
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    with FakeHub() as hub:
        out = subprocess.run(
            [sys.executable, "-m", "bashgym.cli", "dataset", "push", "alice/traces", "--dataset", "pub", "--yes", "--endpoint", hub.url,
             "--token", "hf_testtoken"], capture_output=True, text=True, timeout=300, env={**env, "COLUMNS": "200"})
    assert out.returncode == 0, out.stderr
    assert "pushed ds-pub-v1 to alice/traces" in out.stdout
    assert hub.repos["alice/traces"]["visibility"] == "private" and hub.repos["alice/traces"]["type"] == "dataset"
    uploaded = hub.files["alice/traces"]
    path = Path(record["path"])
    assert set(uploaded) == {"README.md", *(f"{s}.{ext}" for s in ("train", "validation", "test")
                                           for ext in ("jsonl", "parquet"))}
    assert uploaded["README.md"] == (path / "README.md").read_bytes()
    assert uploaded["train.jsonl"] == (path / "train.jsonl").read_bytes()
    assert all(auth == "Bearer hf_testtoken" for _, _, auth in hub.requests)


def test_push_names_the_dataset_it_uploads(sessions: Store) -> None:
    """Not "the newest": the one the user reviewed, named, so a later build cannot slip in."""
    assert cli("dataset", "build", "--name", "a", "--tier", "all").returncode == 0
    out = cli("dataset", "push", "me/a", "--yes", "--endpoint", "http://127.0.0.1:9")
    assert out.returncode == 2 and "Missing option '--dataset'" in out.stderr


def _push(hub_url: str, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    # the hub client is offline in tests; this one talks to 127.0.0.1 only
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    return subprocess.run([sys.executable, "-m", "bashgym.cli", "dataset", "push", *args, "--endpoint", hub_url,
                           "--token", "hf_testtoken"], capture_output=True, text=True, timeout=300, input=input,
                          env={**env, "COLUMNS": "200"})


def test_push_refuses_a_file_edited_after_the_build_and_uploads_nothing(sessions: Store) -> None:
    from factory_hub import FakeHub

    assert cli("dataset", "build", "--name", "edit", "--tier", "all").returncode == 0
    record = json.loads(cli("dataset", "show", "edit", "--json").stdout)
    train = Path(record["path"]) / "train.jsonl"
    lines = train.read_text().splitlines()
    token = "ghp_" + "Zq8Xw3Lm9Kp2" * 3
    row = json.loads(lines[-1])
    row["messages"][0]["content"] += f" export GITHUB_TOKEN={token}"
    lines[-1] = json.dumps(row)
    train.write_text("\n".join(lines) + "\n")
    with FakeHub() as hub:
        out = _push(hub.url, "alice/edited", "--dataset", "edit", "--yes")
    assert out.returncode == 1
    assert "refusing to push ds-edit-v1; nothing was uploaded" in out.stderr
    assert "train.jsonl: changed after the build" in out.stderr
    assert f"train.jsonl:{len(lines)}: github_token in messages[0].content" in out.stderr
    assert hub.requests == [] and hub.files == {}


def test_push_rescans_files_whose_hashes_still_match_and_the_card(store: Store) -> None:
    """The hashes say the bytes are the build's; the fresh scan says what is in them now: a word denied after the
    build is found in the untouched rows, and a token typed into the card (which no hash covers) in the card."""
    from factory_hub import FakeHub

    client = session("client", [topic_turn("nginx", 1)])
    client.turns[0].prompt += " for Initrode"
    save(store, client, *(session(f"s{i}", [topic_turn(t, i + 2)]) for i, t in enumerate(["redis", "kafka"])))
    assert cli("dataset", "build", "--name", "late", "--tier", "all").returncode == 0
    path = Path(json.loads(cli("dataset", "show", "late", "--json").stdout)["path"])
    where = next(f"{split}.jsonl:{n}" for split in ("train", "validation", "test")
                 for n, line in enumerate((path / f"{split}.jsonl").read_text().splitlines(), 1) if "Initrode" in line)
    assert cli("config", "set", "redact.deny", "Initrode").returncode == 0
    card = (path / "README.md").read_text().splitlines()
    card.insert(3, "maintainer token: ghp_" + "Zq8Xw3Lm9Kp2" * 3)
    (path / "README.md").write_text("\n".join(card) + "\n")
    with FakeHub() as hub:
        out = _push(hub.url, "alice/late", "--dataset", "late", "--yes")
        assert cli("config", "unset", "redact.deny").returncode == 0
        card_only = _push(hub.url, "alice/late", "--dataset", "late", "--yes")
        assert hub.requests == [] and hub.files == {}
    assert out.returncode == 1 and "refusing to push ds-late-v1; nothing was uploaded" in out.stderr
    assert "changed after the build" not in out.stderr
    assert f"{where}: deny_list in messages[0].content" in out.stderr
    assert card_only.returncode == 1 and "the card holds README.md:4 github_token" in card_only.stderr


def test_push_refuses_a_parquet_file_swapped_after_the_build(sessions: Store) -> None:
    from factory_hub import FakeHub

    assert cli("dataset", "build", "--name", "pq", "--tier", "all").returncode == 0
    path = Path(json.loads(cli("dataset", "show", "pq", "--json").stdout)["path"])
    (path / "test.parquet").write_bytes((path / "train.parquet").read_bytes())
    with FakeHub() as hub:
        out = _push(hub.url, "alice/pq", "--dataset", "pq", "--yes")
    assert out.returncode == 1 and "test.parquet: changed after the build" in out.stderr
    assert hub.requests == []


def test_public_push_needs_an_attestation_and_stores_it_in_the_card(sessions: Store) -> None:
    from factory_hub import FakeHub

    assert cli("dataset", "build", "--name", "pub", "--tier", "all").returncode == 0
    path = Path(json.loads(cli("dataset", "show", "pub", "--json").stdout)["path"])
    with FakeHub() as hub:
        bare = _push(hub.url, "alice/public", "--dataset", "pub", "--public", "--yes")
        vague = _push(hub.url, "alice/public", "--dataset", "pub", "--public", "--yes", "--attest", "looks fine")
        assert hub.requests == []
        statement = "I reviewed 3 sample rows; no names of people or clients remain"
        out = _push(hub.url, "alice/public", "--dataset", "pub", "--public", "--yes", "--attest", statement, "--names", "Initech,Bob Slydell")
    assert bare.returncode == 1 and "--yes alone does not give it" in bare.stderr
    assert vague.returncode == 1 and "must say that you reviewed a sample" in vague.stderr
    assert out.returncode == 0, out.stderr
    assert hub.repos["alice/public"]["visibility"] == "public"
    card = hub.files["alice/public"]["README.md"].decode()
    assert "## Attestation" in card and f'attested: "{statement}"' in card
    assert "2 name(s) of people, clients or companies were searched for" in card and "Initech" not in card
    assert card.index("## Attestation") < card.index("## Licence")
    assert (path / "README.md").read_text() == card


def test_interactive_push_searches_the_names_typed_and_asks_for_the_attestation(store: Store) -> None:
    from factory_hub import FakeHub

    client = session("client", [topic_turn("nginx", 1)])
    client.turns[0].prompt += " for our client Globex Corporation"
    save(store, client, session("ok", [topic_turn("redis", 2)]))
    assert cli("dataset", "build", "--name", "names", "--tier", "all").returncode == 0
    with FakeHub() as hub:
        refused = _push(hub.url, "alice/names", "--dataset", "names", input="Globex Corporation, Hank Scorpio\n")
        declined = _push(hub.url, "alice/names", "--dataset", "names", input="Hank Scorpio\ny\nn\n")
        assert hub.requests == []
        out = _push(hub.url, "alice/names", "--dataset", "names", input="Hank Scorpio\ny\ny\ny\n")
    assert refused.returncode == 1 and "names you listed appear in the data" in refused.stderr
    assert "'Globex Corporation'" in refused.stderr and ".jsonl:" in refused.stderr
    assert declined.returncode == 1 and "push cancelled" in declined.stderr
    assert out.returncode == 0, out.stderr
    assert "Did you read the 2 sample row(s) above?" in out.stdout
    card = hub.files["alice/names"]["README.md"].decode()
    assert "no names of people or clients remain" in card and "1 name(s)" in card


def test_default_build_keeps_what_the_judge_rates_and_says_what_it_left_out(sessions: Store) -> None:
    never = cli("dataset", "build", "--name", "none")
    assert never.returncode != 0 and "Traceback" not in never.stderr
    assert "6 example(s) were never judged: run `bashgym judge` first" in never.stderr + never.stdout
    with sessions.transaction():
        for sid, tier in (("s0", "gold"), ("s1", "silver"), ("s2", "bronze"), ("s3", "failed")):
            sessions.put_score(sid, -1, "heuristic", 0.5, tier, {"flags": ["unverified_claim"]} if tier == "bronze" else {})
    out = cli("dataset", "build", "--name", "dflt", "--json")
    record = json.loads(out.stdout)
    assert record["counts"]["sessions"] == 2 and record["counts"]["selection"]["excluded"] == {
        "bronze": 1, "failed": 1, "unscored": 2}
    text = cli("dataset", "build", "--name", "dflt")
    assert "selection: tiers gold, silver (default: follows the judge); excluded by tier: bronze 1, failed 1, " \
           "unscored 2 — run `bashgym judge` to score the unscored" in text.stdout
    assert "judge flags on the excluded: unverified_claim 1" in text.stdout
    picked = json.loads(cli("dataset", "build", "--name", "bronze", "--tier", "bronze", "--json").stdout)
    assert picked["counts"]["sessions"] == 1 and picked["counts"]["selection"]["chosen_by"] == "override"
