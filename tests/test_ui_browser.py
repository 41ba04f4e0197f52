"""The web UI in a real browser: Debian's Chromium driven by Playwright against a real uvicorn server.

Chromium comes from Debian (`apt-get install -y chromium`, /usr/bin/chromium); Playwright's own browser
downloads are never used. Set BASHGYM_SCREENSHOTS=1 to refresh docs/screenshots/ for the README, or BASHGYM_TEST_ARTIFACTS=DIR to keep a
screenshot of every page under DIR/screenshots.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

from bashgym.store import Store
from bashgym.ui.app import create_app
from ui_sessions import failing_session, judge, seed, seed_artifacts

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
DOCS_SHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (scripts/test.sh installs it)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class _Server:
    def __init__(self, store_path: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        config = uvicorn.Config(create_app(store_path), host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start within 15 s")
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture()
def base_url(store: Store) -> Iterator[str]:
    seed(store)
    with _Server(store.path) as url:
        yield url


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    ctx = browser.new_context(viewport={"width": 1360, "height": 900})
    p = ctx.new_page()
    p.set_default_timeout(10_000)
    yield p
    ctx.close()


def _shot(page: Page, name: str, tmp_path: Path) -> None:
    """A screenshot per page: kept under $BASHGYM_TEST_ARTIFACTS/screenshots when set (CI artifacts),
    written to docs/screenshots with BASHGYM_SCREENSHOTS=1, else to the test's temp dir."""
    artifacts = os.environ.get("BASHGYM_TEST_ARTIFACTS")
    folder = (DOCS_SHOTS if os.environ.get("BASHGYM_SCREENSHOTS")
              else Path(artifacts) / "screenshots" if artifacts else tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=False)


def _contrast(page: Page, text: str, background: str) -> float:
    """The WCAG contrast ratio of an element's computed colour on another's background colour."""
    def luminance(css: str) -> float:
        rgb = [int(v) / 255 for v in css[css.index("(") + 1:css.index(")")].split(",")[:3]]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    fg = luminance(page.eval_on_selector(text, "el => getComputedStyle(el).color"))
    bg = luminance(page.eval_on_selector(background, "el => getComputedStyle(el).backgroundColor"))
    return (max(fg, bg) + 0.05) / (min(fg, bg) + 0.05)


def test_search_open_label_with_keyboard_and_curate(page: Page, base_url: str, store: Store, tmp_path: Path) -> None:
    page.goto(f"{base_url}/sessions")
    assert page.locator("tr.row").count() == 2
    _shot(page, "sessions", tmp_path)
    # WCAG AA: the header's key hint and the page's grey text read at 4.5:1 or more
    assert _contrast(page, "header.top .keys", "header.top") >= 4.5
    assert _contrast(page, "tr.row .id", "body") >= 4.5

    page.keyboard.press("/")
    page.keyboard.type("flaky")
    page.keyboard.press("Enter")
    page.wait_for_url("**/sessions?q=flaky*")
    assert page.locator("tr.row").count() == 1
    assert page.locator("tr.row mark").first.inner_text() == "flaky"

    page.click("text=fix the flaky test in test_io.py")
    page.wait_for_url("**/sessions/sess-ok-0001?q=flaky#hit")  # lands on the match, highlighted
    assert page.locator("#hit + .prompt.match mark").inner_text() == "flaky"
    assert page.locator("section.turn.current").get_attribute("data-turn") == "0"
    page.keyboard.press("j")  # turn 0
    page.keyboard.press("j")  # turn 1
    page.keyboard.press("k")  # back to turn 0
    page.keyboard.press("g")
    page.locator('section.turn[data-turn="0"] .lbl.good.on').wait_for()
    page.keyboard.press("j")
    page.keyboard.press("b")
    page.locator('section.turn[data-turn="1"] .lbl.bad.on').wait_for()
    labels = store.latest_labels("sess-ok-0001")
    assert labels[0].label == "good" and labels[1].label == "bad"
    # A note is typed in an inline form (no window.prompt) and shows at once, without a reload.
    page.keyboard.press("n")
    page.keyboard.type("flaky <b>fix</b>")
    page.keyboard.press("Enter")
    page.locator('section.turn[data-turn="1"] .note', has_text="flaky <b>fix</b>").wait_for()
    assert page.locator('section.turn[data-turn="1"] .note-form').is_hidden()
    assert store.latest_labels("sess-ok-0001")[1].note == "flaky <b>fix</b>"
    page.select_option('.session-head .tier-select', "silver")
    page.locator(".session-head .state .tier-silver").wait_for()
    # the tier datasets use follows at once: the person's silver wins over the judge's gold
    page.locator('.session-curate .effective [data-effective-tier="silver"]').wait_for()
    assert store.latest_labels("sess-ok-0001")[-1].tier == "silver"
    page.keyboard.press("k")
    page.evaluate("window.scrollTo(0, 0)")
    _shot(page, "session", tmp_path)
    page.keyboard.press("3")  # tier override from the keyboard: turn 0 → bronze
    page.locator('section.turn[data-turn="0"] .state .tier-bronze').wait_for()
    page.locator('#turn-0 .effective [data-effective-tier="bronze"]').wait_for()
    assert store.latest_labels("sess-ok-0001")[0].tier == "bronze"
    page.keyboard.press("c")  # collapse the turn, then open it again
    assert page.locator('#turn-0 > .prompt').is_hidden()
    page.keyboard.press("c")
    assert page.locator('#turn-0 > .prompt').is_visible()
    edit = page.locator("#step-0-2 .tool")  # a tool call folds to its head
    edit.locator(".tool-toggle").click()
    assert edit.locator("pre.diff").is_hidden() and edit.locator(".tool-name").is_visible()
    edit.locator(".tool-toggle").click()
    assert edit.locator("pre.diff").is_visible()
    page.keyboard.press("]")  # the next (older) session
    page.wait_for_url("**/sessions/sess-evil-0001")
    page.keyboard.press("/")  # from a session page: the list's search box
    page.wait_for_url("**/sessions#search")
    page.keyboard.type("flaky")
    assert page.evaluate("document.activeElement.id") == "q"

    # Back on the list: select with x, add to a curation list, label the session from the keyboard.
    page.goto(f"{base_url}/sessions")
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.fill("#list-name", "keepers")
    page.click("#add-to-list")
    page.locator("#toast.show").wait_for()
    first = page.locator("tr.row").first.get_attribute("data-session")
    assert store.curation_list_session_ids("keepers") == [first]
    page.keyboard.press("b")
    page.locator("tr.row.current td.labels > .lab:first-child.lab-bad").wait_for()  # the session's own label
    assert page.locator("tr.row.current td.labels").inner_text().split()[0] == "bad"  # once, not "bad bad"
    assert page.locator("tr.row.current td.labels").inner_text().count("bad") == 1
    # The row shows the label as soon as it is sent; the store has it once the request completes.
    deadline = time.time() + 10
    while time.time() < deadline and getattr(store.latest_labels(first).get(-1), "label", None) != "bad":
        time.sleep(0.1)
    assert store.latest_labels(first)[-1].label == "bad"


def test_hostile_transcript_runs_no_script(page: Page, base_url: str) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for url in ("/sessions", "/sessions?q=script", "/sessions/sess-evil-0001",
                "/sessions/sess-evil-0001/turns/0/steps/1/output"):
        page.goto(base_url + url)
        page.wait_for_load_state("load")
        if url == "/sessions/sess-evil-0001":
            for summary in page.locator("details > summary").all():
                summary.click()
            assert page.get_by_text("<script>alert('title')</script>", exact=False).count() >= 1
            assert page.get_by_text("<div id=injected>INJECTED</div>", exact=False).count() >= 1
            assert page.locator("#injected, main img, main iframe, main script, main svg:not(.chart)").count() == 0
            assert page.locator(".lbl.good").count() >= 1  # the page still works
        page.wait_for_timeout(150)
    assert dialogs == []
    assert "pwned" not in page.title()


def test_dataset_run_and_eval_pages_render_charts(page: Page, base_url: str, store: Store, tmp_path: Path) -> None:
    seed_artifacts(store, tmp_path)
    page.goto(f"{base_url}/datasets")
    page.click("text=ds-demo-v1")
    assert page.locator("svg.chart").count() == 3
    assert page.locator("text=secret").count() >= 1
    _shot(page, "dataset", tmp_path)
    page.goto(f"{base_url}/runs/run-demo")
    assert page.locator("svg.chart polyline").count() == 2
    _shot(page, "run", tmp_path)
    page.goto(f"{base_url}/evals/ev-adapter")
    assert page.locator("svg.chart").count() == 2
    assert page.locator("text=adapter run-demo").count() >= 1
    _shot(page, "eval", tmp_path)
    page.goto(f"{base_url}/evals")
    page.select_option('select[name="a"]', "ev-base")
    page.select_option('select[name="b"]', "ev-adapter")
    page.click("form.compare-form button")
    page.wait_for_url("**/evals/compare?a=ev-base&b=ev-adapter")
    assert page.locator('tr.flip-fixed[data-task="files-001"]').is_visible()
    _shot(page, "eval-compare", tmp_path)
    with store.transaction():
        store.create_run("run-other", "sft", dataset_id="ds-demo-v1", base_model="tiny", config={"lr": 2e-4},
                         output_dir=str(tmp_path / "run2"))
        store.update_run("run-other", status="completed", finished=True,
                         metrics={"loss_history": [[s, 1.0 - 0.004 * s] for s in range(1, 41)]})
    page.goto(f"{base_url}/runs")
    page.select_option('select[name="a"]', "run-demo")
    page.select_option('select[name="b"]', "run-other")
    page.click("form.compare-form button")
    page.wait_for_url("**/runs/compare?a=run-demo&b=run-other")
    assert page.locator("svg.chart polyline").count() == 3
    _shot(page, "run-compare", tmp_path)
    page.goto(f"{base_url}/datasets/compare?a=ds-demo-v1&b=ds-demo-v1")
    assert page.locator("#ds-sessions td").first.inner_text() == "2"
    _shot(page, "dataset-compare", tmp_path)
    page.goto(f"{base_url}/datasets/ds-demo-v1/card")
    assert page.locator("article.card h1").inner_text() == "demo dataset <script>alert(1)</script>"
    _shot(page, "card", tmp_path)

    # Review the rows: search, then follow one to the session turn it came from.
    page.goto(f"{base_url}/datasets/ds-demo-v1")
    assert page.locator("li.example").count() == 20
    page.fill('input[name="q"]', "answer 7")
    page.keyboard.press("Enter")
    page.wait_for_url("**/datasets/ds-demo-v1?q=answer+7*")
    assert page.locator("li.example").count() == 1
    page.click("li.example a.from")
    page.wait_for_url("**/sessions/sess-evil-0001#turn-0")

    # A curated list becomes a dataset with one click, and opens for review.
    with store.transaction():
        store.add_to_curation_list("picked", ["sess-ok-0001"])
    page.goto(f"{base_url}/curation")
    _shot(page, "curation", tmp_path)
    page.click('button.build-list[data-list="picked"]')
    page.wait_for_url("**/datasets/ds-picked-v*", timeout=60_000)
    assert page.locator("li.example").count() >= 1
    _shot(page, "dataset-from-list", tmp_path)


def test_evidence_links_jump_to_the_step_they_cite(page: Page, base_url: str, store: Store, tmp_path: Path) -> None:
    with store.transaction():
        store.save_session(failing_session())
    judge(store, "sess-fail-0001")
    page.goto(f"{base_url}/sessions")
    assert "why: " in page.locator('tr.row[data-session="sess-fail-0001"] .whyline').inner_text()
    page.goto(f"{base_url}/sessions/sess-fail-0001")
    link = page.locator('section.turn[data-turn="0"] .explain a[href^="#step-0-"]').first
    page.locator('section.turn[data-turn="0"] details.metrics > summary').click()
    target = link.get_attribute("href")
    link.click()
    page.wait_for_url(f"**/sessions/sess-fail-0001{target}")
    assert page.evaluate("document.querySelector(':target').id") == target[1:]
    assert page.locator(target).is_visible()
    box = page.locator(target).bounding_box()
    assert box is not None and 0 <= box["y"] < 900
    _shot(page, "session-why", tmp_path)


def test_j_on_the_last_row_goes_to_the_next_page(page: Page, store: Store) -> None:
    from bashgym.schema import Session, Turn

    with store.transaction():
        for i in range(51):  # one more than a page
            store.save_session(Session(id=f"many-{i:02d}", source="claude_code", started_at=f"2026-10-01T10:{i:02d}:00Z",
                                       turns=[Turn(index=0, prompt=f"task {i}")]))
    with _Server(store.path) as url:
        page.goto(f"{url}/sessions")
        assert page.locator("tr.row").count() == 50
        for _ in range(50):
            page.keyboard.press("j")
        page.keyboard.press("j")
        page.wait_for_url("**/sessions?page=2")
        assert page.locator("tr.row").count() == 1
