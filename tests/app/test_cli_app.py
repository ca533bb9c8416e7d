"""``replydesk users``, ``replydesk demo load`` and ``replydesk app`` (through :func:`app.cli_app.register`)."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from app import cli_app
from kb.auth import authenticate
from kb.records import RecordsStore
from kb.services import accounts
from tests.conftest import make_settings


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", type=Path)
    parser = argparse.ArgumentParser(prog="replydesk")
    cli_app.register(parser.add_subparsers(dest="command", required=True), common)
    return parser


def _run(argv: list[str], monkeypatch, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    args = _parser().parse_args(argv)
    return args.func(args)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("REPLYDESK_HOME", "REPLYDESK_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"


def test_users_add_list_set_role_disable(home, monkeypatch, capsys):
    h = ["--home", str(home)]
    assert _run(["users", "add", "alice", "--role", "admin", "--name", "Alice A", "--password-stdin", *h],
                monkeypatch, stdin="alice-password\n") == 0
    monkeypatch.setenv("BOB_PASSWORD", "bob-password")
    assert _run(["users", "add", "bob", "--role", "specialist", "--password-env", "BOB_PASSWORD", *h],
                monkeypatch) == 0
    store = RecordsStore(make_settings(home).records_url)
    assert authenticate(store, "alice", "alice-password").role == "admin"
    assert _run(["users", "set-role", "bob", "qa_reviewer", *h], monkeypatch) == 0
    assert _run(["users", "disable", "bob", *h], monkeypatch) == 0
    capsys.readouterr()
    assert _run(["users", "list", "--json", *h], monkeypatch) == 0
    listed = {u["username"]: u for u in json.loads(capsys.readouterr().out)}
    assert listed["bob"]["role"] == "qa_reviewer" and listed["bob"]["active"] is False
    assert listed["alice"]["display_name"] == "Alice A"
    assert [e.action for e in reversed(store.list_audit()) if e.action.startswith("user_")] == [
        "user_create", "user_create", "user_set_role", "user_disable"]
    raw = b"".join(p.read_bytes() for p in home.glob("replydesk.db*"))
    assert b"alice-password" not in raw and b"bob-password" not in raw


def test_users_errors_are_reported(home, monkeypatch, capsys):
    h = ["--home", str(home)]
    assert _run(["users", "add", "carol", "--role", "admin", "--password-stdin", *h], monkeypatch, "short\n") == 1
    assert "at least 8" in capsys.readouterr().err
    assert _run(["users", "add", "carol", "--role", "admin", "--password-env", "NOPE_UNSET", *h], monkeypatch) == 1
    # No terminal and no password source: refuse instead of hanging on a prompt.
    assert _run(["users", "add", "carol", "--role", "admin", *h], monkeypatch) == 1
    assert "--password-stdin" in capsys.readouterr().err
    assert _run(["users", "set-role", "nobody", "admin", *h], monkeypatch) == 1
    with pytest.raises(SystemExit):
        _parser().parse_args(["users", "add", "x", "--role", "superuser"])


def test_demo_load_is_idempotent(home, keyword_embedder):
    from kb.knowledge_base import KnowledgeBase

    settings = make_settings(home)
    kb = KnowledgeBase(settings, embedder=keyword_embedder)
    first = cli_app.load_demo(settings, kb=kb)
    assert first["failed"] == [] and first["ingested"] > 0
    assert first["accounts_created"] == [a[0] for a in accounts.DEMO_ACCOUNTS]
    states = kb.catalog.document_states()
    assert states["sop-payout-holds"][0] == 2 and states["sop-virtual-gift-refunds"][0] == 2
    second = cli_app.load_demo(settings, kb=kb)
    assert second["failed"] == [] and second["ingested"] == 0 and second["accounts_created"] == []
    assert kb.catalog.document_states() == states
    store = RecordsStore(settings.records_url)
    shown = accounts.demo_accounts_to_show(store)
    assert [(a.username, a.password) for a in shown] == [(a[0], a[3]) for a in accounts.DEMO_ACCOUNTS]
    for account in shown:
        assert authenticate(store, account.username, account.password).role == account.role


def test_app_command_runs_streamlit_on_loopback(home, monkeypatch):
    calls = {}

    def fake_call(cmd, env, cwd):
        calls.update(cmd=cmd, env=env, cwd=cwd)
        return 0

    monkeypatch.setattr(cli_app.subprocess, "call", fake_call)
    assert _run(["app", "--port", "8765", "--home", str(home)], monkeypatch) == 0
    cmd = calls["cmd"]
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4].endswith("app/streamlit_app.py")
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--server.port") + 1] == "8765"
    assert calls["env"]["REPLYDESK_HOME"] == str(home.resolve())
