"""End to end in a real browser: the specialist drafts, edits and sends a reply; a QA reviewer scores it.

Starts ``streamlit run app/streamlit_app.py`` on a free loopback port with a temporary
data home where the demo was loaded (real embedding model), and drives Debian's
Chromium through Playwright (never ``playwright install``). Screenshots go to
``test-artifacts/browser/``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from app import cli_app
from kb.records import RecordsStore
from tests.conftest import DEMO_KB, REPO, make_settings

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing; run scripts/install_chromium.sh"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not become healthy in {timeout:.0f}s")


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory, embedder):
    """The app on 127.0.0.1:<free port> over a fresh home with the demo loaded."""
    from kb.knowledge_base import KnowledgeBase

    home = tmp_path_factory.mktemp("browser-home")
    settings = make_settings(home)
    result = cli_app.load_demo(settings, kb=KnowledgeBase(settings, embedder=embedder))
    assert not result["failed"], result["failed"]
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "REPLYDESK_HOME": str(home), "REPLYDESK_LLM_PROVIDER": "none", "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    env.pop("REPLYDESK_DATABASE_URL", None)
    log = (home / "streamlit.log").open("w")
    proc = subprocess.Popen(cli_app.streamlit_command(port), cwd=str(home), env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        _wait_healthy(url, proc)
        yield url, settings
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def page(tmp_path):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
            headless=True, viewport={"width": 1440, "height": 1000})
        context.set_default_timeout(60_000)
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def _shot(page, name: str) -> None:
    page.wait_for_timeout(800)  # let Streamlit finish painting
    # Streamlit scrolls inside its main container, so a "full page" shot would stop at the
    # viewport: grow the viewport to the content instead, then restore it.
    height = page.evaluate("""() => {
        const main = document.querySelector('[data-testid="stMain"]');
        return Math.max(main ? main.scrollHeight : 0, document.body.scrollHeight);
    }""")
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": min(max(height, size["height"]), 6000)})
    page.wait_for_timeout(400)
    page.screenshot(path=str(ARTIFACTS / name))
    page.set_viewport_size(size)
    # A page that raised still renders the rest of itself: look for Streamlit's error box.
    errors = page.locator('[data-testid="stException"]')
    assert errors.count() == 0, f"{name}: the page shows an error: {errors.first.inner_text()[:500]}"
    # Every chart has a plot area (a collapsed Vega chart keeps its axes and legend around a
    # plot area 2 px high, its bars a hairline).
    heights = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stVegaLiteChart"] svg.marks')]
        .map(svg => svg.querySelector('g.role-frame.root path.background'))
        .filter(Boolean).map(plot => plot.getBoundingClientRect().height)""")
    assert all(h >= 15 for h in heights), f"{name}: a chart's plot area is {min(heights):.0f} px high"


def _sign_in(page, url: str, username: str, password: str, landing: str) -> None:
    page.goto(url)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name=landing).wait_for()


def test_specialist_drafts_and_sends_then_reviewer_scores(demo_server, page):
    url, settings = demo_server
    ticket = next(json.loads(line) for line in (DEMO_KB.parent / "tickets.jsonl").read_text().splitlines()
                  if json.loads(line)["id"] == "t19")

    page.goto(url)
    page.get_by_text("First time here?").wait_for()
    page.get_by_text("demo-specialist").wait_for()
    _shot(page, "01-sign-in.png")

    _sign_in(page, url, "specialist", "demo-specialist", "Draft a reply")
    page.get_by_label("Ticket", exact=True).fill(ticket["text"])
    page.get_by_role("button", name="Draft reply").click()
    reply_box = page.get_by_label("Reply to send (edit freely)")
    reply_box.wait_for(timeout=180_000)
    page.get_by_role("heading", name="Guidance").wait_for()
    _shot(page, "02-draft.png")

    draft_text = reply_box.input_value()
    edited = draft_text.replace("Hi there,", "Hi Jordan,", 1)
    if edited == draft_text:
        edited = "Hi Jordan,\n\n" + draft_text
    reply_box.fill(edited)
    reply_box.press("Control+Enter")  # commit the text area before clicking
    page.get_by_role("button", name="Mark as sent").click()
    page.get_by_text("characters edited").wait_for()
    _shot(page, "03-sent.png")

    store = RecordsStore(settings.records_url)
    (draft,) = store.list_drafts()
    assert draft.status == "sent" and draft.final_text == edited
    assert draft.edit_distance and draft.edit_distance > 0
    assert draft.citations, "the payout ticket should be answered from the knowledge base"

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in").wait_for()
    _sign_in(page, url, "reviewer", "demo-reviewer", "QA review")
    page.get_by_text("Draft → sent reply").wait_for()
    # By its label, once the rubric is drawn: ".first" once caught the page mid-render and
    # the key went to another slider.
    page.get_by_role("slider", name="Citation correctness").wait_for()
    page.get_by_role("slider", name="Accuracy").press("End")
    page.get_by_label("Comment").fill("Accurate, cites the payout SOP.")
    _shot(page, "04-review.png")
    page.get_by_role("button", name="Submit score").click()
    page.get_by_text("Nothing to review").wait_for()

    (score,) = store.list_qa_scores(draft.id)
    assert score.reviewer == "reviewer" and score.scores["accuracy"] == 5
    assert score.comment == "Accurate, cites the payout SOP."

    page.get_by_role("tab", name="Dashboard").click()
    page.get_by_text("Acceptance rate").first.wait_for()
    page.wait_for_timeout(1500)  # charts render asynchronously
    _shot(page, "05-dashboard.png")

    # The knowledge owner's and the admin's pages render with the demo data.
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in").wait_for()
    _sign_in(page, url, "owner", "demo-owner", "Knowledge base")
    page.get_by_text("past their review-by date").wait_for()
    _shot(page, "06-knowledge-base.png")
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in").wait_for()
    _sign_in(page, url, "admin", "demo-admin", "Draft a reply")
    page.get_by_role("link", name="Admin").click()
    page.get_by_role("heading", name="Admin").wait_for()
    _shot(page, "07-admin.png")
