"""Sign-in, session timeout and role-based navigation of the Streamlit app (AppTest)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from app import ui
from kb.services import accounts
from tests.app.conftest import PASSWORDS, button, texts


def _sign_in(at, username: str, password: str):
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    return button(at, "Sign in").click().run()


def test_sign_in_page_explains_first_steps_without_accounts(tmp_path, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import APP, _isolate

    _isolate(monkeypatch, tmp_path / "empty-home", tmp_path)
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    assert "no accounts yet" in texts(at)
    assert "replydesk users add" in texts(at)
    st.cache_resource.clear()


def test_sign_in_page_lists_demo_accounts_only_while_they_use_the_demo_password(env):
    accounts.ensure_demo_accounts(env.store)
    at = env.app().run()
    table = at.table[0].value
    assert list(table["Username"]) == [a[0] for a in accounts.DEMO_ACCOUNTS]
    assert list(table["Password"]) == [a[3] for a in accounts.DEMO_ACCOUNTS]
    accounts.reset_password(env.store, None, "reviewer", "a-private-password", via="test")
    at = env.app().run()
    assert "reviewer" not in list(at.table[0].value["Username"])
    assert "demo-reviewer" not in list(at.table[0].value["Password"])


def test_wrong_password_is_refused_and_audited(env):
    at = _sign_in(env.app().run(), "sam", "not-the-password")
    assert not at.exception
    assert any("Wrong username or password" in e.value for e in at.error)
    assert ui.USER_KEY not in at.session_state
    assert env.store.list_audit()[0].action == "login_failed"


@pytest.mark.parametrize("username,landing,pages", [
    ("sam", "Draft a reply", {"draft"}),
    ("kim", "Knowledge base", {"knowledge-base"}),
    ("quinn", "QA review", {"qa-review"}),
    ("ada", "Draft a reply", {"draft", "knowledge-base", "qa-review", "admin"}),
])
def test_each_role_lands_on_its_pages(env, username, landing, pages):
    at = _sign_in(env.app().run(), username, PASSWORDS[username])
    assert not at.exception
    assert at.title[0].value == landing
    assert at.session_state[ui.USER_KEY].username == username
    assert env.store.list_audit()[0].action == "login"
    page_files = {"draft": "pages/draft.py", "knowledge-base": "pages/knowledge_base.py",
                  "qa-review": "pages/qa_review.py", "admin": "pages/admin.py"}
    for name, path in page_files.items():
        if name in pages:
            at.switch_page(path).run()
            assert not at.exception, (name, at.exception)
        else:
            # Pages of other roles are not even registered for this session.
            with pytest.raises(ValueError):
                at.switch_page(path)


def test_idle_session_times_out(env):
    at = env.app("sam")
    at.session_state[ui.LAST_SEEN_KEY] = datetime.now(timezone.utc) - timedelta(minutes=61)
    at.run()
    assert ui.USER_KEY not in at.session_state
    assert any("session expired" in i.value for i in at.info)
    assert at.text_input(key="login_username") is not None


def test_disabled_account_is_signed_out_on_next_request(env):
    at = env.app("kim").run()
    assert at.title[0].value == "Knowledge base"
    accounts.set_active(env.store, env.users["ada"], "kim", False)
    at.run()
    assert ui.USER_KEY not in at.session_state
    assert any("disabled" in i.value for i in at.info)


def test_role_change_takes_effect_without_signing_in_again(env):
    at = env.app("kim").run()
    assert at.title[0].value == "Knowledge base"
    accounts.change_role(env.store, env.users["ada"], "kim", "specialist")
    at.run()
    assert at.title[0].value == "Draft a reply"
    with pytest.raises(ValueError):
        at.switch_page("pages/knowledge_base.py")


def test_sign_out(env):
    at = env.app("quinn").run()
    button(at, "Sign out").click().run()
    assert ui.USER_KEY not in at.session_state
    assert env.store.list_audit()[0].action == "logout"
