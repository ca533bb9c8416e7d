"""Accounts: sign-in, account management, demo accounts."""

from __future__ import annotations

from dataclasses import dataclass

from kb.auth import (
    AuthError,
    CurrentUser,
    authenticate,
    authorize,
    hash_password,
    validate_role,
)
from kb.records import RecordsStore, UserRecord

#: Accounts created by ``replydesk demo load``; their passwords are public on purpose and
#: are shown on the sign-in page only while the account still uses them.
DEMO_ACCOUNTS: tuple[tuple[str, str, str, str], ...] = (
    ("specialist", "specialist", "Sam Specialist", "demo-specialist"),
    ("owner", "knowledge_owner", "Kim Knowledge-Owner", "demo-owner"),
    ("reviewer", "qa_reviewer", "Quinn QA-Reviewer", "demo-reviewer"),
    ("admin", "admin", "Ada Admin", "demo-admin"),
)
DEMO_STATE_KEY = "demo_loaded"


@dataclass(frozen=True)
class DemoAccount:
    """A demo account as shown on the sign-in page."""

    username: str
    role: str
    display_name: str
    password: str


def sign_in(store: RecordsStore, username: str, password: str) -> CurrentUser | None:
    """Check credentials; None when they are wrong or the account is disabled."""
    return authenticate(store, username.strip(), password)


def create_account(store: RecordsStore, username: str, password: str, role: str, *, display_name: str = "",
                   by: CurrentUser | None = None, via: str = "app", is_demo: bool = False) -> UserRecord:
    """Create an account (no permission check: the CLI operator, or after :func:`add_user` checked).

    Raises:
        AuthError: bad role, short password or taken username.
    """
    validate_role(role)
    password_hash = hash_password(password)
    try:
        record = store.create_user(username, password_hash, role, display_name=display_name, is_demo=is_demo)
    except ValueError as exc:
        raise AuthError(str(exc)) from exc
    store.audit("user_create", user_id=by.id if by else None, username=by.username if by else via,
                target=record.username, details={"role": role, "via": via})
    return record


def add_user(store: RecordsStore, actor: CurrentUser, username: str, password: str, role: str,
             display_name: str = "") -> UserRecord:
    """Admin: create an account."""
    actor = authorize(store, actor, "users.manage")
    return create_account(store, username, password, role, display_name=display_name, by=actor)


def list_users(store: RecordsStore, actor: CurrentUser) -> list[UserRecord]:
    """Admin: all accounts."""
    authorize(store, actor, "users.manage")
    return store.list_users()


def _admin_and_target(store: RecordsStore, actor: CurrentUser | None,
                      username: str) -> tuple[CurrentUser | None, UserRecord]:
    """Check the acting admin (``None`` = the CLI) and find the account acted on."""
    if actor is not None:
        actor = authorize(store, actor, "users.manage")
    target = store.find_user(username)
    if target is None:
        raise AuthError(f"no user '{username}'")
    return actor, target


def _audit_user_change(store: RecordsStore, action: str, actor: CurrentUser | None, via: str,
                       target: UserRecord, details: dict | None = None) -> None:
    store.audit(action, user_id=actor.id if actor else None, username=actor.username if actor else via,
                target=target.username, details=details)


def _guard_last_admin(store: RecordsStore, target: UserRecord, *, new_role: str | None = None,
                      new_active: bool | None = None) -> None:
    loses_admin = target.role == "admin" and target.active and (
        (new_role is not None and new_role != "admin") or new_active is False)
    if loses_admin and store.count_admins() <= 1:
        raise AuthError("this is the last active admin account; make another admin first")


def change_role(store: RecordsStore, actor: CurrentUser | None, username: str, role: str, *,
                via: str = "app") -> UserRecord:
    """Change an account's role (admin in the app; ``actor=None`` only from the CLI)."""
    actor, target = _admin_and_target(store, actor, username)
    validate_role(role)
    _guard_last_admin(store, target, new_role=role)
    record = store.update_user(target.id, role=role)
    _audit_user_change(store, "user_set_role", actor, via, target, {"from": target.role, "to": role})
    return record


def set_active(store: RecordsStore, actor: CurrentUser | None, username: str, active: bool, *,
               via: str = "app") -> UserRecord:
    """Disable or re-enable an account (admin in the app; ``actor=None`` only from the CLI)."""
    actor, target = _admin_and_target(store, actor, username)
    if actor is not None and target.id == actor.id and not active:
        raise AuthError("you cannot disable your own account")
    _guard_last_admin(store, target, new_active=active)
    record = store.update_user(target.id, active=active)
    _audit_user_change(store, "user_enable" if active else "user_disable", actor, via, target)
    return record


def reset_password(store: RecordsStore, actor: CurrentUser | None, username: str, password: str, *,
                   via: str = "app") -> UserRecord:
    """Set a new password (admin in the app; ``actor=None`` only from the CLI)."""
    actor, target = _admin_and_target(store, actor, username)
    record = store.update_user(target.id, password_hash=hash_password(password))
    _audit_user_change(store, "user_reset_password", actor, via, target)
    return record


def ensure_demo_accounts(store: RecordsStore) -> list[str]:
    """Create the demo accounts that do not exist yet; returns the names created."""
    created = []
    for username, role, display_name, password in DEMO_ACCOUNTS:
        if store.find_user(username) is None:
            create_account(store, username, password, role, display_name=display_name, via="demo", is_demo=True)
            created.append(username)
    store.set_state(DEMO_STATE_KEY, "1")
    return created


def demo_accounts_to_show(store: RecordsStore) -> list[DemoAccount]:
    """Demo accounts to list on the sign-in page: only when the demo was loaded, and only
    accounts that are active and still use the published demo password."""
    if store.get_state(DEMO_STATE_KEY) != "1":
        return []
    out = []
    for username, role, display_name, password in DEMO_ACCOUNTS:
        record = store.find_user(username)
        if record is not None and record.is_demo and record.active:
            out.append(DemoAccount(username, record.role, record.display_name, password))
    return out


def has_accounts(store: RecordsStore) -> bool:
    """Whether any account exists (the sign-in page explains how to create the first)."""
    return bool(store.counts()["users"])
