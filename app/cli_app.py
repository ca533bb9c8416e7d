"""``replydesk users …``, ``replydesk demo load`` and ``replydesk app``.

Wired into :mod:`app.cli` with :func:`register`. Passwords are never taken from the
command line (it ends up in shell history and ``ps``): they are read from a prompt,
from standard input (``--password-stdin``) or from an environment variable
(``--password-env NAME``).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import subprocess
import sys
from pathlib import Path

from kb.config import Settings

REPO = Path(__file__).resolve().parents[1]
DEMO_KB = REPO / "demo" / "kb"
STREAMLIT_SCRIPT = Path(__file__).resolve().parent / "streamlit_app.py"


def _settings(args: argparse.Namespace) -> Settings:
    return Settings().with_home(getattr(args, "home", None))


def _fail(message: str, code: int = 2) -> int:
    print(f"replydesk: error: {message}", file=sys.stderr)
    return code


def _store(settings: Settings):
    from kb.records import RecordsStore

    return RecordsStore(settings.records_url)


def _read_password(args: argparse.Namespace) -> str:
    if getattr(args, "password_env", None):
        value = os.environ.get(args.password_env)
        if not value:
            raise ValueError(f"environment variable {args.password_env} is empty or not set")
        return value
    if getattr(args, "password_stdin", False):
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise ValueError("no terminal to prompt for a password; use --password-stdin or --password-env NAME")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise ValueError("the passwords do not match")
    return first


# ---- users ----------------------------------------------------------------------------
def cmd_users(args: argparse.Namespace) -> int:
    from kb.auth import ROLE_LABELS, AuthError
    from kb.services import accounts

    store = _store(_settings(args))
    try:
        if args.users_command == "add":
            record = accounts.create_account(store, args.username, _read_password(args), args.role,
                                             display_name=args.name or "", via="cli")
            print(f"created {record.username} ({ROLE_LABELS[record.role]})")
        elif args.users_command == "list":
            users = store.list_users()
            if args.json:
                print(json.dumps([{"username": u.username, "display_name": u.display_name, "role": u.role,
                                   "active": u.active, "demo_password": u.is_demo,
                                   "created_at": u.created_at.isoformat(),
                                   "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None}
                                  for u in users], indent=2))
            else:
                for u in users:
                    print(f"{u.username:<20} {u.role:<16} {'active' if u.active else 'disabled':<9} {u.display_name}")
                print(f"{len(users)} account(s)")
        elif args.users_command == "set-role":
            record = accounts.change_role(store, None, args.username, args.role, via="cli")
            print(f"{record.username} is now {ROLE_LABELS[record.role]}")
        elif args.users_command in ("disable", "enable"):
            record = accounts.set_active(store, None, args.username, args.users_command == "enable", via="cli")
            print(f"{record.username} {'enabled' if record.active else 'disabled'}")
        elif args.users_command == "set-password":
            accounts.reset_password(store, None, args.username, _read_password(args), via="cli")
            print(f"password of {args.username} changed")
    except (AuthError, ValueError) as exc:
        return _fail(str(exc), 1)
    return 0


# ---- demo -----------------------------------------------------------------------------
def load_demo(settings: Settings, *, progress: bool = False, kb=None) -> dict:
    """Ingest the demo knowledge base and create the demo accounts; safe to run again.

    ``demo/kb/v1`` (old versions) is ingested only while none of its documents exist yet,
    so a second run does not try to put version 1 back over version 2.

    Returns:
        ``{"ingested", "unchanged", "rechunked", "failed", "accounts_created", "accounts"}``.
    """
    from ingest.pipeline import Ingestor
    from kb.knowledge_base import KnowledgeBase
    from kb.services import accounts

    store = _store(settings)
    kb = kb or KnowledgeBase(settings)
    ingestor = Ingestor(kb, progress=progress)
    known = kb.catalog.document_states()
    v1_ids = {p.stem for p in (DEMO_KB / "v1").glob("*.md")}
    reports = []
    if not v1_ids & set(known):
        reports.append(ingestor.ingest_paths([DEMO_KB / "v1"]))
    reports.append(ingestor.ingest_paths([DEMO_KB / "docs", DEMO_KB / "qa"]))
    created = accounts.ensure_demo_accounts(store)
    ingested = sum(r.ingested for r in reports)
    store.audit("demo_load", username="cli", target=str(DEMO_KB),
                details={"ingested": ingested, "accounts_created": created})
    return {"ingested": ingested, "unchanged": sum(r.skipped_unchanged for r in reports),
            "rechunked": sum(r.rechunked for r in reports),
            "failed": [{"path": f.path, "error": f.error} for r in reports for f in r.failed],
            "accounts_created": created,
            "accounts": [{"username": u, "role": r, "password": p} for u, r, _, p in accounts.DEMO_ACCOUNTS]}


def cmd_demo(args: argparse.Namespace) -> int:
    settings = _settings(args)
    result = load_demo(settings, progress=not args.json and sys.stderr.isatty())
    for failure in result["failed"]:
        print(f"error: {failure['path']}: {failure['error']}", file=sys.stderr)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        rechunked = f"{result['rechunked']} re-chunked, " if result["rechunked"] else ""
        print(f"demo knowledge base: {result['ingested']} document(s) ingested, {result['unchanged']} unchanged, "
              f"{rechunked}{len(result['failed'])} failed (home {settings.home})")
        print("demo accounts (username / password / role):")
        for account in result["accounts"]:
            print(f"  {account['username']:<12} {account['password']:<18} {account['role']}")
        print("start the app with: replydesk app")
    return 1 if result["failed"] else 0


# ---- app ------------------------------------------------------------------------------
def streamlit_command(port: int, host: str = "127.0.0.1") -> list[str]:
    """The ``streamlit run`` command line of the app."""
    return [sys.executable, "-m", "streamlit", "run", str(STREAMLIT_SCRIPT), "--server.address", host,
            "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none", "--client.toolbarMode", "viewer"]


def cmd_app(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    if getattr(args, "home", None):
        env["REPLYDESK_HOME"] = str(Path(args.home).expanduser().resolve())
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    print(f"replydesk app on http://{args.host}:{args.port}  (Ctrl+C to stop)", file=sys.stderr)
    try:
        return subprocess.call(streamlit_command(args.port, args.host), env=env, cwd=str(REPO))
    except KeyboardInterrupt:
        return 130


# ---- parser ---------------------------------------------------------------------------
def register(subparsers, common: argparse.ArgumentParser) -> None:
    """Add ``users``, ``demo`` and ``app`` to the ``replydesk`` parser."""
    from kb.auth import ROLES

    p = subparsers.add_parser("users", parents=[common], help="manage local accounts")
    users = p.add_subparsers(dest="users_command", required=True)
    u = users.add_parser("add", parents=[common], help="create an account")
    u.add_argument("username")
    u.add_argument("--role", required=True, choices=ROLES)
    u.add_argument("--name", help="full name shown in the app")
    _password_args(u)
    u = users.add_parser("list", parents=[common], help="list accounts")
    u.add_argument("--json", action="store_true")
    u = users.add_parser("set-role", parents=[common], help="change an account's role")
    u.add_argument("username")
    u.add_argument("role", choices=ROLES)
    u = users.add_parser("disable", parents=[common], help="disable an account")
    u.add_argument("username")
    u = users.add_parser("enable", parents=[common], help="re-enable a disabled account")
    u.add_argument("username")
    u = users.add_parser("set-password", parents=[common], help="set a new password")
    u.add_argument("username")
    _password_args(u)
    p.set_defaults(func=cmd_users)

    p = subparsers.add_parser("demo", parents=[common], help="demo data")
    demo = p.add_subparsers(dest="demo_command", required=True)
    d = demo.add_parser("load", parents=[common], help="ingest the demo knowledge base and create demo accounts")
    d.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_demo)

    p = subparsers.add_parser("app", parents=[common], help="run the web app (Streamlit) on 127.0.0.1")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--host", default="127.0.0.1", help="bind address (default loopback only)")
    p.set_defaults(func=cmd_app)


def _password_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    group.add_argument("--password-env", metavar="NAME", help="read the password from environment variable NAME")
