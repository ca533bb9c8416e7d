"""Fixtures of the app tests: an isolated data home, seeded accounts, an AppTest factory.

Fast tests swap the embedding model for the deterministic ``KeywordEmbedder`` of the root
conftest (patched where the knowledge base looks it up), so no weights load; tests
marked ``slow`` use the real bundled model.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app import ui
from kb.auth import CurrentUser
from kb.services import accounts
from kb.services.workspace import Workspace
from tests.conftest import DEMO_KB, KeywordEmbedder, make_settings

APP = Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py"

PASSWORDS = {"sam": "sam-password", "kim": "kim-password", "quinn": "quinn-password", "ada": "ada-password"}
ROLES = {"sam": "specialist", "kim": "knowledge_owner", "quinn": "qa_reviewer", "ada": "admin"}


class AppEnv:
    """A data home the app under test points at, with helpers to seed and drive it."""

    def __init__(self, home: Path, embedder) -> None:
        self.home = home
        self.settings = make_settings(home)
        self.embedder = embedder
        self.ws = Workspace(self.settings, ingest_runner=ui.run_ingest)
        self.users: dict[str, CurrentUser] = {}

    @property
    def store(self):
        return self.ws.store

    def add_users(self) -> dict[str, CurrentUser]:
        for name, role in ROLES.items():
            record = accounts.create_account(self.store, name, PASSWORDS[name], role, via="test")
            self.users[name] = CurrentUser.from_record(record)
        return self.users

    def ingest(self, *paths: Path):
        return self.ws.ingest(list(paths), {})

    def app(self, user: str | None = None, timeout: float = 60) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=timeout)
        if user is not None:
            at.session_state[ui.USER_KEY] = self.users[user]
            at.session_state[ui.LAST_SEEN_KEY] = datetime.now(timezone.utc)
        return at


def _isolate(monkeypatch, home: Path, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no developer .env is picked up
    monkeypatch.setenv("REPLYDESK_HOME", str(home))
    monkeypatch.setenv("REPLYDESK_LLM_PROVIDER", "none")
    # No background model loading racing the test's own calls to the embedder.
    monkeypatch.setenv("REPLYDESK_WARM_UP", "false")
    monkeypatch.delenv("REPLYDESK_DATABASE_URL", raising=False)
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def env(tmp_path, monkeypatch) -> AppEnv:
    """An empty home with the four role accounts, using the keyword embedder."""
    embedder = KeywordEmbedder()
    monkeypatch.setattr("kb.knowledge_base.get_embedder", lambda settings: embedder)
    home = tmp_path / "home"
    _isolate(monkeypatch, home, tmp_path)
    app_env = AppEnv(home, embedder)
    app_env.add_users()
    yield app_env
    st.cache_resource.clear()


@pytest.fixture
def demo_env(env) -> AppEnv:
    """``env`` with the demo knowledge base ingested (keyword embedder: fast, not a quality claim)."""
    first = env.ingest(DEMO_KB / "v1")
    second = env.ingest(DEMO_KB / "docs", DEMO_KB / "qa")
    assert not first.failed and not second.failed
    return env


def texts(at: AppTest) -> str:
    """All visible text of a run, for assertions."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "text", "info", "warning", "error",
                 "success", "code"):
        parts.extend(str(getattr(e, "value", "")) for e in getattr(at, kind))
    return "\n".join(parts)


def button(at: AppTest, label: str):
    """The first button with ``label``."""
    for b in at.button:
        if b.label == label:
            return b
    raise AssertionError(f"no button {label!r}; have {[b.label for b in at.button]}")
