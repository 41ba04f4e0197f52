"""The web UI's routes on the real app over a real store (starlette TestClient, no server process)."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape as html_escape

from bashgym.schema import Session, Step, Turn, Usage
from bashgym.store import Store
from bashgym.ui.app import create_app
from ui_sessions import failing_session, hostile_session, judge, seed, seed_artifacts

WRITE = {"X-Bashgym-Request": "1"}


@pytest.fixture()
def client(store: Store) -> TestClient:
    seed(store)
    return TestClient(create_app(store.path))


def test_list_shows_top_level_sessions_with_tier_and_count(client: TestClient) -> None:
    r = client.get("/sessions")
    assert r.status_code == 200
    assert "sess-ok-0001" in r.text and "sess-evil-0001" in r.text
    assert 'data-session="sess-ok-0001-agent"' not in r.text  # subagents hidden unless asked
    assert "<strong>2</strong> sessions" in r.text
    assert 'data-session="sess-ok-0001-agent"' in client.get("/sessions?subagents=1").text


def test_search_matches_prompts_commands_and_outputs(client: TestClient) -> None:
    def ids(q: str) -> set[str]:
        return {s["id"] for s in client.get("/api/sessions", params={"q": q, "subagents": "1"}).json()["sessions"]}

    assert ids("flaky") == {"sess-ok-0001"}  # prompt
    assert ids("commit -am") == {"sess-ok-0001"}  # command
    assert ids("zebrafish") == {"sess-ok-0001-agent"}  # output of a subagent
    assert ids("nothing-like-this") == set()
    assert ids('AND OR "unbalanced') == set()  # FTS syntax typed by a user is searched, never an error
    page = client.get("/sessions", params={"q": "flaky"}).text
    assert "<mark>flaky</mark>" in page


def test_filters_by_source_tier_label_and_date(client: TestClient, store: Store) -> None:
    def ids(**params: str) -> set[str]:
        return {s["id"] for s in client.get("/api/sessions", params=params).json()["sessions"]}

    assert ids(source="codex") == {"sess-evil-0001"}
    assert ids(tier="gold") == {"sess-ok-0001"}
    assert ids(since="2026-11-21") == {"sess-ok-0001"}
    assert ids(until="2026-11-20") == {"sess-evil-0001"}  # a bare date includes that day
    assert ids(project="pwn") == {"sess-evil-0001"}
    assert ids(model="gpt") == {"sess-evil-0001"}
    assert ids(label="none") == {"sess-ok-0001", "sess-evil-0001"}
    r = client.post("/api/labels", json={"session_id": "sess-evil-0001", "turn_idx": -1, "tier": "silver"},
                    headers=WRITE)
    assert r.json()["effective_tier"] == "silver"  # judged failed: what the page shows at once
    assert ids(tier="silver") == {"sess-evil-0001"}  # a human tier override wins over the judge
    assert ids(tier="failed") == set()
    client.post("/api/labels", json={"session_id": "sess-ok-0001", "turn_idx": 1, "label": "bad"}, headers=WRITE)
    assert ids(label="bad") == {"sess-ok-0001"}
    assert ids(label="good") == set()
    asc = client.get("/api/sessions", params={"sort": "started", "order": "asc"}).json()["sessions"]
    assert [s["id"] for s in asc] == ["sess-evil-0001", "sess-ok-0001"]
    assert client.get("/api/sessions", params={"sort": "nonsense"}).status_code == 400


def test_session_view_shows_timeline_scores_diff_and_nested_subagent(client: TestClient) -> None:
    html = client.get("/sessions/sess-ok-0001").text
    assert "fix the flaky test in test_io.py" in html
    assert '<details class="thinking">' in html  # thinking collapsed
    assert '<span class="ansi-bold ansi-32">3 passed</span>' in html  # ANSI colours as classes
    diff = html[html.index('<pre class="diff">'):]
    diff = diff[:diff.index("</pre>")]
    assert "@@ -1 +1 @@-timeout = 1+timeout = 5" in re.sub(r"<[^>]+>", "", diff)  # one row per line
    assert '<span class="diff-del">-<span class="hl-n">timeout</span>' in diff  # the code coloured (src/io.py: Python)
    assert '<pre class="input code">pytest<span class="hl-w"> </span>-x' in html  # shell commands through the lexer
    assert "tests pass after the edit" in html and "0.82" in html  # per-turn score with its explanation
    assert "subagent session sess-ok-0001-agent" in html and "zebrafish" in html  # nested at its Task call
    assert "800 in / 200 out" in html and "90.0 s" in html and "2.1 s" in html  # tokens and timing
    assert client.get("/sessions/sess-ev").status_code == 200  # unique prefix resolves
    assert "ambiguous" in client.get("/sessions/sess-ok").text
    assert client.get("/sessions/missing").status_code == 404


def test_hostile_transcript_is_escaped_and_bounded(client: TestClient) -> None:
    r = client.get("/sessions/sess-evil-0001")
    html = r.text
    assert re.findall(r"<script\b[^>]*>", html) == ['<script src="/static/app.js" defer>']
    for raw in ("<img src=x", "<iframe", "<svg onload", "<div id=injected", "<b>bold?</b>"):
        assert raw not in html
    assert "&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt;" in html
    assert "&lt;div id=injected&gt;INJECTED&lt;/div&gt;" in html
    assert len(html) < 120_000  # 300 kB output shown as head and tail, with a link to the rest
    assert "/sessions/sess-evil-0001/turns/0/steps/1/output" in html
    assert "binary" in html and "\\x00" in html and "\x00" not in html
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "unsafe-inline" not in r.headers["content-security-policy"]
    raw = client.get("/sessions/sess-evil-0001/turns/0/steps/1/output")
    assert raw.headers["content-type"].startswith("text/plain")
    assert raw.headers["x-content-type-options"] == "nosniff"
    assert len(raw.text) > 300_000


def test_label_and_note_are_stored_and_carried_forward(client: TestClient, store: Store) -> None:
    r = client.post("/api/labels", json={"session_id": "sess-ok-0001", "turn_idx": 0, "label": "good"},
                    headers=WRITE)
    assert r.status_code == 200, r.text
    client.post("/api/labels", json={"session_id": "sess-ok-0001", "turn_idx": 0, "note": "clean fix"},
                headers=WRITE)
    latest = store.latest_labels("sess-ok-0001")[0]  # what the factory reads
    assert (latest.label, latest.note, latest.author) == ("good", "clean fix", "ui")
    client.post("/api/labels", json={"session_id": "sess-ok-0001", "turn_idx": 0, "label": ""}, headers=WRITE)
    assert store.latest_labels("sess-ok-0001")[0].label is None
    assert store.latest_labels("sess-ok-0001")[0].note == "clean fix"
    assert "clean fix" in client.get("/sessions/sess-ok-0001").text


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"session_id": "sess-ok-0001", "turn_idx": 0, "label": "great"}, 400),
        ({"session_id": "sess-ok-0001", "turn_idx": 0, "tier": "platinum"}, 400),
        ({"session_id": "sess-ok-0001", "turn_idx": 7, "label": "good"}, 404),
        ({"session_id": "nope", "turn_idx": 0, "label": "good"}, 404),
        ({"session_id": "sess-ok-0001", "turn_idx": 0}, 400),
    ],
    ids=["bad-label", "bad-tier", "no-such-turn", "no-such-session", "nothing-to-set"],
)
def test_bad_labels_are_refused_with_a_reason(client: TestClient, store: Store, body: dict, status: int) -> None:
    r = client.post("/api/labels", json=body, headers=WRITE)
    assert r.status_code == status
    assert r.json()["error"]
    assert store.labels() == []


def test_writes_need_the_request_header(client: TestClient, store: Store) -> None:
    r = client.post("/api/labels", json={"session_id": "sess-ok-0001", "turn_idx": 0, "label": "good"})
    assert r.status_code == 403
    assert store.labels() == []


def test_curation_list_adds_once_and_filters_the_list(client: TestClient, store: Store) -> None:
    body = {"name": "keepers", "session_ids": ["sess-ok-0001", "sess-evil"]}
    assert client.post("/api/curation", json=body, headers=WRITE).json() == {"name": "keepers", "changed": 2, "size": 2}
    assert client.post("/api/curation", json=body, headers=WRITE).json()["changed"] == 0
    assert store.curation_list_session_ids("keepers") == ["sess-evil-0001", "sess-ok-0001"]
    assert "keepers" in client.get("/curation").text
    assert client.get("/api/sessions", params={"list": "keepers"}).json()["total"] == 2
    client.post("/api/curation", json={"name": "keepers", "session_ids": ["sess-ok-0001"], "remove": True},
                headers=WRITE)
    assert store.curation_list_session_ids("keepers") == ["sess-evil-0001"]


def test_token_is_required_by_header_query_or_cookie(store: Store) -> None:
    seed(store)
    c = TestClient(create_app(store.path, token="s3cret"), base_url="http://192.168.0.9:8765")
    assert c.get("/sessions").status_code == 401
    assert c.get("/sessions", headers={"X-Bashgym-Token": "wrong"}).status_code == 401
    assert c.get("/sessions", headers={"X-Bashgym-Token": "s3cret"}).status_code == 200
    assert c.get("/sessions?token=s3cret").status_code == 200  # sets the cookie...
    assert c.get("/sessions").status_code == 200  # ...which later requests carry


def test_without_token_only_loopback_hosts_are_answered(store: Store) -> None:
    app = create_app(store.path)
    assert TestClient(app, base_url="http://127.0.0.1:8765").get("/sessions").status_code == 200
    assert TestClient(app, base_url="http://localhost:8765").get("/sessions").status_code == 200
    assert TestClient(app, base_url="http://evil.example:8765").get("/sessions").status_code == 403


def test_fts_index_follows_resave_and_migration_backfills(store: Store, tmp_path: Path) -> None:
    s = hostile_session()
    with store.transaction():
        store.save_session(s)
    assert store.search_sessions("iframe")[1] == 1
    s.turns[0].steps = [Step(kind="message", text="rewritten without the tag")]
    s.turns[0].prompt = "plain"
    with store.transaction():
        store.save_session(s)
    assert store.search_sessions("iframe")[1] == 0
    assert store.search_sessions("rewritten")[1] == 1
    # A store made before m005 gets its sessions indexed when it migrates.
    db = sqlite3.connect(store.path)
    db.executescript(
        "DROP TABLE session_fts; DROP TABLE session_search; DROP TABLE curation_lists; "
        "DELETE FROM migrations WHERE name = 'm005_session_search';"
    )
    db.close()
    with Store(store.path) as again:
        assert again.search_sessions("rewritten")[1] == 1


def _bulk(n: int) -> list[Session]:
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    out = []
    for i in range(n):
        w = words[i % len(words)]
        out.append(Session(
            id=f"bulk-{i:05d}", source=("claude_code", "codex", "gym")[i % 3], project=f"proj{i % 40}",
            models=[f"model-{i % 5}"], started_at=f"2026-{1 + i % 11:02d}-{1 + i % 28:02d}T10:{i % 60:02d}:00Z",
            usage=Usage(1000 + i, 100 + i % 97),
            turns=[Turn(index=t, prompt=f"task {i} turn {t}: {w} the widget", steps=[
                Step(kind="tool_call", tool_name="Bash", input={"command": f"grep -rn {w} src/ | head"},
                     output=f"src/{w}.py:{i}: found {w} token{i}\n" * 5, exit_code=i % 2),
                Step(kind="message", text=f"done with {w}")]) for t in range(2)],
        ))
    return out


def test_list_and_search_stay_fast_on_10000_sessions(store: Store) -> None:
    sessions = _bulk(10_000)
    with store.transaction():
        for s in sessions:
            store.save_session(s)
        for i in range(0, 10_000, 3):
            store.put_score(f"bulk-{i:05d}", -1, "heuristic", (i % 100) / 100, ("gold", "silver", "bronze")[i % 3], {})
    client = TestClient(create_app(store.path))
    client.get("/sessions")  # warm the thread's connection
    timings = {}
    for name, url in [
        ("list", "/sessions"),
        ("page 150", "/sessions?page=150"),
        ("search", "/sessions?q=foxtrot"),
        ("search+filters", "/sessions?q=grep&source=codex&tier=gold&sort=tokens"),
        ("rare term", "/sessions?q=token4242"),
        ("label filter", "/sessions?label=none&sort=score"),
        ("session", "/sessions/bulk-04242"),
    ]:
        start = time.perf_counter()
        r = client.get(url)
        timings[name] = time.perf_counter() - start
        assert r.status_code == 200, (url, r.text[:300])
    assert "bulk-04242" in client.get("/sessions?q=token4242").text
    assert client.get("/api/sessions?q=foxtrot").json()["total"] == 1250
    print({k: round(v * 1000) for k, v in timings.items()})
    assert max(timings.values()) < 1.5, timings


@pytest.mark.parametrize(
    ("url", "status", "says"),
    [
        ("/sessions?q=%00", 200, "<strong>2</strong> sessions"),  # nothing searchable: every session
        ("/api/sessions?q=fla%00ky", 200, '"total":0'),
        ("/api/sessions?page=99999999999999999999", 400, "page: got '99999999999999999999'"),
        ("/sessions?page=-1", 400, "expected a whole number from 1 to 1,000,000"),
        ("/sessions?page=two", 400, "page: got &#39;two&#39;"),
        ("/api/sessions?since=notadate", 400, "since: got 'notadate', expected a date"),
        ("/sessions?until=2026-13-45", 400, "until: got &#39;2026-13-45&#39;"),
    ],
    ids=["nul-html", "nul-api", "huge-page", "negative-page", "word-page", "since-not-a-date", "until-bad-day"],
)
def test_bad_list_parameters_get_a_clear_answer_not_a_500(client: TestClient, url: str, status: int,
                                                          says: str) -> None:
    r = client.get(url)
    assert r.status_code == status, r.text[:300]
    assert says in r.text


def test_a_page_past_the_last_goes_to_the_last(client: TestClient) -> None:
    r = client.get("/sessions?page=999&source=codex", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/sessions?source=codex&page=1"
    page = client.get("/sessions?page=999&source=codex").text
    assert "page 1 of 1" in page and "sess-evil-0001" in page
    assert client.get("/api/sessions?page=7").json() | {"sessions": []} == {
        "total": 2, "page": 7, "per_page": 50, "pages": 1, "sessions": []}


def test_refusals_carry_the_security_headers_and_raw_routes_keep_their_sandbox(client: TestClient,
                                                                              store: Store) -> None:
    refused = [client.post("/api/labels", json={}),  # no write header
               TestClient(create_app(store.path), base_url="http://evil.example").get("/sessions")]
    for r in refused:
        assert r.status_code == 403
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
    raw = client.get("/sessions/sess-evil-0001/turns/0/steps/1/output")
    assert raw.headers["content-security-policy"] == "sandbox; default-src 'none'"


def test_diff_of_an_absolute_path_has_one_slash(store: Store) -> None:
    from bashgym.ui.render import edit_diff

    html = str(edit_diff("Edit", {"file_path": "/srv/app/io.py", "old_string": "a\n", "new_string": "b\n"}))
    assert "--- a/srv/app/io.py" in html and "+++ b/srv/app/io.py" in html and "//" not in html


def test_charts_use_tier_colours_whole_counts_percent_rates_and_a_fitted_loss_axis(client: TestClient,
                                                                                   store: Store,
                                                                                   tmp_path: Path) -> None:
    seed_artifacts(store, tmp_path, base_rate=0.0, adapter_rate=0.0)
    ds = client.get("/datasets/ds-demo-v1").text
    tier_svg = ds[ds.index('aria-label="sessions by tier"'):].split("</svg>")[0]
    assert 'class="bar t-gold"' in tier_svg
    ticks = re.findall(r'class="tick"[^>]*>([^<]*)<', ds)
    assert ticks and all("." not in t for t in ticks)  # counts: whole-number ticks only
    ev = client.get("/evals/ev-adapter").text
    ev_ticks = re.findall(r'class="tick"[^>]*>([^<]*)<', ev)
    assert "0%" in ev_ticks and "100%" in ev_ticks and not any("e-" in t for t in ev_ticks)
    run = client.get("/runs/run-demo").text
    run_ticks = [float(t) for t in re.findall(r'class="tick"[^>]*>([\d.]+)<', run)]
    assert min(run_ticks) > 0.7  # the loss moves from 0.9 to 0.82: the axis is not pinned to 0


def test_list_page_has_a_heading_and_every_field_a_label(client: TestClient) -> None:
    html = client.get("/sessions").text
    assert "<h1>Sessions</h1>" in html
    form = html[html.index('<form class="filters"'):html.index("<table")]
    fields = re.findall(r"<(?:input|select)\b[^>]*>", form)
    unlabelled = [f for f in fields if "aria-label=" not in f and 'type="date"' not in f and 'type="checkbox"' not in f]
    assert fields and unlabelled == []


def test_session_page_shows_why_each_metric_scored_with_evidence_linked_to_its_step(client: TestClient,
                                                                                    store: Store) -> None:
    from bashgym.judge.results import explain_rows

    with store.transaction():
        store.save_session(failing_session())
    judge(store, "sess-fail-0001")
    stored = next(r for r in store.scores("sess-fail-0001", "heuristic") if r["turn_idx"] == 0)
    rows = explain_rows(stored["metrics"], 0)
    assert stored["tier"] == "failed" and any(r["evidence"] for r in rows)
    html = client.get("/sessions/sess-fail-0001").text
    table = html[html.index('id="turn-0"'):]
    table = table[table.index('<table class="explain">'):table.index("</table>")]
    anchors = set(re.findall(r'id="(step-\d+-\d+)"', html))
    for r in rows:  # every metric the judge stored: its value, weight, note and evidence, as judge explain has them
        assert f"<td>{r['name']}</td><td class=\"n\">{r['value']:.2f}</td>" in table
        assert html_escape(r["note"]) in table
        for e in r["evidence"][:6]:
            assert html_escape(e["text"]) in table
    links = re.findall(r'<a href="#(step-0-\d+)">step (\d+)</a>', table)
    assert links and all(a in anchors and a.endswith("-" + n) for a, n in links)
    assert "final message admits failure" in table and "made 3 times" in table
    session_level = html[:html.index('id="turn-0"')]
    assert '<table class="explain">' in session_level and re.search(r'href="#step-0-\d+">turn 0 · step', session_level)


def test_list_shows_a_one_line_why_and_tier_counts(client: TestClient, store: Store) -> None:
    from bashgym.judge.results import why_line

    with store.transaction():
        store.save_session(failing_session())
    judge(store, "sess-fail-0001")
    why = why_line(store.scores("sess-fail-0001", "heuristic")[0]["metrics"])
    assert why
    html = client.get("/sessions").text
    row = html[html.index('data-session="sess-fail-0001"'):]
    row = row[:row.index("</tr>")]
    assert "why: " + html_escape(why[:60]) in row
    counts = html[html.index('id="tier-counts"'):]
    counts = counts[:counts.index("</span>\n</div>") if "</span>\n</div>" in counts else 2000]
    assert re.search(r'data-tier="gold">gold 1<', counts) and re.search(r'data-tier="failed">failed 2<', counts)
    filtered = client.get("/sessions?tier=gold").text  # counts stay per tier whatever tier is picked
    assert re.search(r'data-tier="failed">failed 2<', filtered)
    assert re.search(r'data-tier="gold">gold 0<', client.get("/sessions?source=codex").text)


def test_a_search_result_opens_the_session_at_the_matching_step(client: TestClient) -> None:
    html = client.get("/sessions?q=zebrafish&subagents=1").text
    assert 'href="/sessions/sess-ok-0001-agent?q=zebrafish#hit"' in html
    page = client.get("/sessions/sess-ok-0001?q=commit").text
    hit = page.index('id="hit"')
    assert page.index('id="turn-1"') < hit  # the first match is turn 1's git commit, not turn 0
    after = page[hit:hit + 600]
    assert 'class="step match" id="step-1-0"' in after and "<mark>commit</mark>" in after
    assert page.count('class="step match"') == 1
    assert 'id="hit"' not in client.get("/sessions/sess-ok-0001").text


def test_dataset_page_pages_and_searches_its_rows_each_linked_to_its_session_turn(client: TestClient, store: Store,
                                                                                  tmp_path: Path) -> None:
    seed_artifacts(store, tmp_path)
    first = client.get("/datasets/ds-demo-v1").text
    assert first.count('<li class="example"') == 20 and "page 1 of 2" in first and "30 examples" in first
    assert 'href="/sessions/sess-ok-0001#turn-0">session sess-ok-0001 · turn 0</a>' in first
    second = client.get("/datasets/ds-demo-v1?page=2").text
    assert second.count('<li class="example"') == 10 and 'data-example="ex-029"' in second
    found = client.get("/datasets/ds-demo-v1", params={"q": "ANSWER 7"}).text
    assert found.count('<li class="example"') == 1 and 'data-example="ex-007"' in found
    api = client.get("/api/datasets/ds-demo-v1/examples", params={"q": "task 1", "split": "train"}).json()
    assert api["total"] == 11 and {e["session_id"] for e in api["examples"]} == {"sess-ok-0001", "sess-evil-0001"}
    assert api["examples"][0]["turns"][1] == {"who": "assistant", "text": "answer 1"}
    assert client.get("/datasets/ds-demo-v1?split=dev").status_code == 400
    assert client.get("/datasets/ds-demo-v1?page=0").status_code == 400


def test_dataset_card_renders_as_a_page_with_its_markup_escaped(client: TestClient, store: Store,
                                                                tmp_path: Path) -> None:
    seed_artifacts(store, tmp_path)
    r = client.get("/datasets/ds-demo-v1/card")
    assert r.headers["content-type"].startswith("text/html")
    assert "<h1>demo dataset &lt;script&gt;alert(1)&lt;/script&gt;</h1>" in r.text and "<em>notes</em>" in r.text
    assert re.findall(r"<script\b[^>]*>", r.text) == ['<script src="/static/app.js" defer>']
    raw = client.get("/datasets/ds-demo-v1/card.md")
    assert raw.text.startswith("# demo dataset <script>")
    assert raw.headers["content-security-policy"] == "sandbox; default-src 'none'"


def test_build_a_dataset_from_a_curated_list(client: TestClient, store: Store) -> None:
    client.post("/api/curation", json={"name": "Keepers!", "session_ids": ["sess-ok-0001"]}, headers=WRITE)
    r = client.post("/api/curation/Keepers!/build", headers=WRITE)
    assert r.status_code == 200, r.text
    built = r.json()
    assert built["id"].startswith("ds-keepers-v") and built["url"] == f"/datasets/{built['id']}"
    record = store.get_dataset(built["id"])
    assert record["config"]["select"]["sessions"] == ["sess-ok-0001"]
    rows = [json.loads(line) for line in (Path(record["path"]) / "train.jsonl").read_text().splitlines()]
    rows += [json.loads(line) for split in ("validation", "test") if (Path(record["path"]) / f"{split}.jsonl").exists()
             for line in (Path(record["path"]) / f"{split}.jsonl").read_text().splitlines()]
    assert rows and {r["session_id"] for r in rows} == {"sess-ok-0001"}
    assert "fix the flaky test" in client.get(built["url"]).text
    missing = client.post("/api/curation/nobody/build", headers=WRITE)
    assert missing.status_code == 404 and "nobody" in missing.json()["error"]
    assert client.post("/api/curation/Keepers!/build").status_code == 403  # a write needs the header


def test_compare_evals_task_by_task_shows_which_flipped(client: TestClient, store: Store, tmp_path: Path) -> None:
    seed_artifacts(store, tmp_path)
    with store.transaction():
        store.put_rollout("ev-base", "lint-003", 0, session_id=None, reward=1.0, status="passed", detail={})
        store.put_rollout("ev-adapter", "lint-003", 0, session_id=None, reward=0.0, status="failed", detail={})
    api = client.get("/api/evals/compare", params={"a": "ev-base", "b": "ev-adapter"}).json()
    assert api["counts"] == {"fixed": 1, "broke": 1, "same": 1}
    assert [(t["task_id"], t["flip"], t["a"], t["b"]) for t in api["tasks"]] == [
        ("files-001", "fixed", 0.0, 1.0), ("lint-003", "broke", 1.0, 0.0), ("git-002", "same", 0.0, 0.0)]
    html = client.get("/evals/compare?a=ev-base&b=ev-adapter").text
    assert 'class="flip-fixed" data-task="files-001"' in html and 'href="/sessions/sess-ok-0001">B1</a>' in html
    assert 'href="/evals/compare?a=ev-base&amp;b=ev-adapter"' in client.get("/evals/ev-adapter").text
    assert 'action="/evals/compare"' in client.get("/evals").text
    assert client.get("/evals/compare?a=ev-base").status_code == 400
    assert client.get("/evals/compare?a=ev-base&b=ev-nope").status_code == 404


def test_compare_runs_overlays_loss_curves_and_final_metrics(client: TestClient, store: Store, tmp_path: Path) -> None:
    seed_artifacts(store, tmp_path)
    with store.transaction():
        store.create_run("run-other", "sft", dataset_id="ds-demo-v1", base_model="tiny", config={"lr": 2e-4},
                         output_dir=str(tmp_path / "run2"))
        store.update_run("run-other", status="completed", finished=True,
                         metrics={"loss_history": [[s, 1.2 - 0.01 * s] for s in range(1, 31)], "final_loss": 0.9})
    html = client.get("/runs/compare?a=run-demo&b=run-other").text
    assert html.count("<polyline") == 3  # run-demo loss + eval_loss, run-other loss
    assert "run-demo loss" in html and "run-other loss" in html
    assert re.search(r"<td>final_loss</td><td class=\"n\">0.82</td><td class=\"n\">0.9</td>", html)
    assert re.search(r"<td>lr</td><td><code>0.0001</code></td><td><code>0.0002</code></td>", html)


def test_compare_datasets_counts_tiers_sources_and_shared_sessions(client: TestClient, store: Store,
                                                                   tmp_path: Path) -> None:
    seed_artifacts(store, tmp_path)
    other = tmp_path / "ds-other-v1"
    other.mkdir()
    (other / "train.jsonl").write_text('{"messages": []}\n' * 4)
    store.add_dataset("ds-other-v1", name="other", version=1, path=str(other), config={}, counts={},
                      content_hash="def", redacted=True, session_ids=["sess-ok-0001"])
    html = client.get("/datasets/compare?a=ds-demo-v1&b=ds-other-v1").text
    sessions = html[html.index('id="ds-sessions"'):]
    assert re.search(r'<td class="n">2</td><td class="n">1</td><td class="n">1</td><td class="n">1</td><td class="n">0</td>',
                     sessions)
    assert re.search(r'<td>train</td><td class="n">30</td><td class="n">4</td><td class="n">-26</td>', html)
    tiers = html[html.index('id="ds-tiers"'):html.index('id="ds-sources"')]
    assert "tier-gold" in tiers and "tier-failed" in tiers
    assert 'action="/datasets/compare"' in client.get("/datasets").text


def test_recorded_codex_and_gemini_sessions_read_cleanly(store: Store, fixtures_dir: Path) -> None:
    """Sessions the real CLIs recorded: Gemini's `replace` as a diff, Codex's shell output without the CLI's
    header, a refused apply_patch flagged, a 0.0000 s wall time shown as <1 ms; each prompt once."""
    from bashgym.sources.importer import import_paths
    from bashgym.sources.registry import get_source

    for name in ("codex", "gemini"):
        fmt = get_source(name)
        assert not import_paths(store, fmt, fmt.discover(fixtures_dir / name)).errors
    client = TestClient(create_app(store.path))
    pages = {}
    for row in store.search_sessions(None, limit=50)[0]:
        session = store.get_session(row["id"])
        html = client.get(f"/sessions/{session.id}").text
        timeline = html[html.index('<div class="turns">'):]
        for turn in session.turns:
            assert timeline.count(str(html_escape(turn.prompt))) == 1, (session.id, turn.index)
        pages[session.source] = pages.get(session.source, "") + timeline
    gemini, codex = pages["gemini"], pages["codex"]
    assert '<span class="diff-del">-TODO: greet</span>' in gemini and '<span class="diff-add">+Hello from bashgym</span>' in gemini
    assert "Chunk ID" not in codex and "Wall time" not in codex and "2 notes.txt" in codex
    assert "<1 ms" in codex.replace("&lt;", "<") and ">0 ms<" not in codex
    name = codex.index('<span class="tool-name">apply_patch</span>')
    assert codex[codex.rindex('<div class="tool ', 0, name):].startswith('<div class="tool error">')
    assert '<span class="exit">error</span>' in codex[name:codex.index("</div>", name)]


def test_session_page_has_an_outline_neighbours_and_its_gym_rollouts(client: TestClient, store: Store,
                                                                     tmp_path: Path) -> None:
    seed_artifacts(store, tmp_path)  # sess-ok-0001 is a rollout of files-001 in both evals
    html = client.get("/sessions/sess-ok-0001").text
    outline = html[html.index('<nav class="outline"'):html.index("</nav>", html.index('<nav class="outline"'))]
    assert re.findall(r'<a href="#(turn-\d+)">', outline) == ["turn-0", "turn-1"]
    assert "fix the flaky test in test_io.py" in outline and "3 tools" in outline and "1 tool<" in outline
    assert html.count('class="turn-toggle"') == 2
    rollouts = re.findall(r'rollout-(\w+)">gym rollout: <strong>\w+</strong>.*?eval <a href="/evals/([\w-]+)">',
                          html, re.S)
    assert sorted(rollouts) == [("failed", "ev-base"), ("passed", "ev-adapter")]
    assert 'id="older-session" href="/sessions/sess-evil-0001"' in html and 'id="newer-session"' not in html
    assert 'id="newer-session" href="/sessions/sess-ok-0001"' in client.get("/sessions/sess-evil-0001").text


def test_hostile_rows_cards_commands_and_evidence_stay_inert(client: TestClient, store: Store, tmp_path: Path) -> None:
    from bashgym.ui.render import code_html, diff_html, highlight

    evil = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    folder = tmp_path / "ds-evil-v1"
    folder.mkdir()
    (folder / "train.jsonl").write_text(json.dumps({"messages": [{"role": f"user{evil}", "content": evil}],
                                                    "session_id": f"x{evil}", "turn_idx": 0, "tier": evil}) + "\n")
    (folder / "README.md").write_text(f"# card\n\n{evil}\n\n[click](javascript:alert(3)) <a href='javascript:alert(4)'>a</a>\n")
    store.add_dataset("ds-evil-v1", name="evil", version=1, path=str(folder), config={}, counts={},
                      content_hash="e", redacted=True, session_ids=[])
    for url in ("/datasets/ds-evil-v1", "/datasets/ds-evil-v1/card", "/datasets/compare?a=ds-evil-v1&b=ds-evil-v1"):
        html = client.get(url).text
        assert re.findall(r"<script\b[^>]*>", html) == ['<script src="/static/app.js" defer>'], url
        assert not re.search(r"<img\b", html) and not re.search(r"""<a\b[^>]*href=["']?javascript:""", html), url
    for markup in (code_html(f"echo '{evil}'", language="bash"), diff_html([f"+{evil}"], "x.py"), highlight(evil, ["alert"])):
        assert "<script" not in str(markup) and "<img" not in str(markup)
