"""The "Admin" page (AppTest): accounts and roles, settings overview, audit log."""

from __future__ import annotations

import pytest

from kb.auth import AuthError, PermissionDenied
from kb.services import accounts, admin
from tests.app.conftest import button, texts
from tests.conftest import DEMO_KB


def test_admin_adds_account_and_changes_role(env):
    at = env.app("ada").run().switch_page("pages/admin.py").run()
    assert not at.exception
    assert set(at.dataframe[0].value["Username"]) == {"ada", "kim", "quinn", "sam"}
    at.text_input(key="new_username").input("lee")
    at.text_input(key="new_display").input("Lee Park")
    at.selectbox(key="new_role").select("qa_reviewer")
    at.text_input(key="new_password").input("lee-password")
    at = at.button(key="FormSubmitter:add_user-Add account").click().run()
    assert not at.exception
    lee = env.store.find_user("lee")
    assert lee.role == "qa_reviewer" and lee.display_name == "Lee Park"
    at.selectbox(key="edit_user").select("lee").run()
    at.selectbox(key="edit_role_lee").select("knowledge_owner").run()
    at = button(at, "Save role").click().run()
    assert env.store.find_user("lee").role == "knowledge_owner"
    at.selectbox(key="edit_user").select("lee").run()
    at = button(at, "Disable account").click().run()
    assert not env.store.find_user("lee").active
    actions = [(e.action, e.username, e.target) for e in reversed(env.store.list_audit())
               if e.action.startswith("user_")]
    assert actions[-3:] == [("user_create", "ada", "lee"), ("user_set_role", "ada", "lee"),
                            ("user_disable", "ada", "lee")]


def test_short_password_is_refused_in_the_form(env):
    at = env.app("ada").run().switch_page("pages/admin.py").run()
    at.text_input(key="new_username").input("tiny")
    at.text_input(key="new_password").input("short")
    at = at.button(key="FormSubmitter:add_user-Add account").click().run()
    assert any("at least 8" in e.value for e in at.error)
    assert env.store.find_user("tiny") is None


def test_settings_overview_and_audit_log(env):
    at = env.app("ada").run().switch_page("pages/admin.py").run()
    assert any("No LLM configured" in i.value for i in at.info)
    settings_table = next(d.value for d in at.dataframe if "Setting" in d.value.columns)
    shown = dict(zip(settings_table["Setting"], settings_table["Value"]))
    assert shown["Data home"] == str(env.home.resolve())
    assert shown["LLM API key"] == "not set"
    assert shown["Vectors made by"].startswith("— (nothing embedded yet")
    env.ingest(DEMO_KB / "qa")
    at = at.run()
    shown = dict(next(d.value for d in at.dataframe if "Setting" in d.value.columns).values)
    assert shown["Vectors made by"] == "KeywordEmbedder (256 dimensions)"
    assert shown["Embedding runtime"] == "KeywordEmbedder"
    assert not at.warning  # the bundled model: its thresholds are the shipped ones
    audit = next(d.value for d in at.dataframe if "Action" in d.value.columns)
    assert "user_create" in set(audit["Action"])
    at.selectbox(key="audit_action").select("user_create").run()
    audit = next(d.value for d in at.dataframe if "Action" in d.value.columns)
    assert set(audit["Action"]) == {"user_create"} and len(audit) == 4


def test_another_embedding_model_gets_a_calibration_warning(env, monkeypatch):
    monkeypatch.setenv("REPLYDESK_EMBEDDING_MODEL", "/models/e5-base")
    monkeypatch.setenv("REPLYDESK_SEMANTIC_RISK_THRESHOLD", "0.46")
    monkeypatch.setenv("REPLYDESK_SEMANTIC_RISK_MARGIN", "0.1")
    monkeypatch.setenv("REPLYDESK_GROUNDING_MIN_COSINE", "0.87")
    monkeypatch.setenv("REPLYDESK_GROUNDING_MIN_COSINE_WITH_OVERLAP", "0.87")
    at = env.app("ada").run().switch_page("pages/admin.py").run()
    assert not at.exception
    (warning,) = [w.value for w in at.warning]
    assert "/models/e5-base" in warning and "replydesk eval threshold" in warning and "replydesk eval risk" in warning
    assert "replydesk eval grounding" in warning
    # The fitted values in effect are shown.
    shown = dict(next(d.value for d in at.dataframe if "Setting" in d.value.columns).values)
    assert shown["Semantic risk layer"] == "threshold 0.46, margin 0.1"
    assert shown["Grounding check"] == "cosine 0.87, 0.87 with word overlap"


def test_llm_probe_reports_unreachable_endpoint(env):
    settings = env.settings.model_copy(update={"llm_provider": "ollama", "llm_base_url": "http://127.0.0.1:9"})
    status = admin.llm_status(settings, timeout=1.0)
    assert status.configured and status.reachable is False and "127.0.0.1:9" in status.detail


def test_llm_probe_reports_reachable_endpoint(env):
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    try:
        port = server.getsockname()[1]
        settings = env.settings.model_copy(update={"llm_provider": "openai",
                                                   "llm_base_url": f"http://127.0.0.1:{port}/v1"})
        assert admin.llm_status(settings, timeout=1.0).reachable is True
    finally:
        server.close()


def test_admin_services_refuse_other_roles_and_protect_the_last_admin(env):
    for name in ("sam", "kim", "quinn"):
        user = env.users[name]
        with pytest.raises(PermissionDenied):
            accounts.add_user(env.store, user, "mallory", "mallory-password", "admin")
        with pytest.raises(PermissionDenied):
            accounts.change_role(env.store, user, name, "admin")
        with pytest.raises(PermissionDenied):
            admin.audit_log(env.ws, user)
        with pytest.raises(PermissionDenied):
            admin.overview(env.ws, user)
    assert env.store.find_user("mallory") is None
    assert env.store.find_user("sam").role == "specialist"
    ada = env.users["ada"]
    with pytest.raises(AuthError, match="last active admin"):
        accounts.change_role(env.store, ada, "ada", "specialist")
    with pytest.raises(AuthError, match="your own account"):
        accounts.set_active(env.store, ada, "ada", False)
    accounts.change_role(env.store, ada, "kim", "admin")
    accounts.change_role(env.store, ada, "ada", "specialist")  # now allowed: kim is an admin
    assert env.store.find_user("ada").role == "specialist"


def test_non_admins_do_not_get_the_admin_page(env):
    at = env.app("kim").run()
    with pytest.raises(ValueError):
        at.switch_page("pages/admin.py")
    assert "Admin" not in texts(at)
