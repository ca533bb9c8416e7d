"""Password hashing, roles, the server-side permission check, sign-in auditing, session timeout."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from kb.auth import (
    PERMISSIONS,
    ROLES,
    AuthError,
    CurrentUser,
    PermissionDenied,
    authenticate,
    authorize,
    can,
    hash_password,
    session_expired,
    verify_password,
)
from kb.records import RecordsStore


@pytest.fixture
def store(tmp_path) -> RecordsStore:
    return RecordsStore(f"sqlite:///{tmp_path / 'auth.db'}")


def _user(store: RecordsStore, name: str, role: str, password: str = "correct horse") -> CurrentUser:
    return CurrentUser.from_record(store.create_user(name, hash_password(password), role))


def test_hash_is_argon2id_and_verifies():
    hashed = hash_password("correct horse")
    assert hashed.startswith("$argon2id$")
    assert "correct horse" not in hashed
    assert verify_password(hashed, "correct horse")
    assert not verify_password(hashed, "correct horsE")
    assert not verify_password("not-a-hash", "correct horse")
    assert hash_password("correct horse") != hashed  # salted


def test_short_passwords_are_refused():
    with pytest.raises(AuthError, match="at least 8"):
        hash_password("short")


@pytest.mark.parametrize("role,permission,allowed", [
    ("specialist", "draft.create", True),
    ("specialist", "kb.upload", False),
    ("specialist", "kb.retire", False),
    ("specialist", "qa.approve", False),
    ("specialist", "review.score", False),
    ("knowledge_owner", "kb.upload", True),
    ("knowledge_owner", "qa.approve", True),
    ("knowledge_owner", "review.score", False),
    ("knowledge_owner", "draft.create", False),
    ("qa_reviewer", "review.score", True),
    ("qa_reviewer", "kb.retire", False),
    ("qa_reviewer", "users.manage", False),
    ("admin", "users.manage", True),
])
def test_role_matrix_is_enforced_against_the_database(store, role, permission, allowed):
    user = _user(store, f"u-{role}", role)
    assert can(user, permission) is allowed
    if allowed:
        assert authorize(store, user, permission).role == role
    else:
        with pytest.raises(PermissionDenied):
            authorize(store, user, permission)


def test_admins_hold_every_permission(store):
    admin = _user(store, "root", "admin")
    for permission in PERMISSIONS:
        authorize(store, admin, permission)
    assert set(ROLES) == {"specialist", "knowledge_owner", "qa_reviewer", "admin"}


def test_authorize_uses_the_current_role_not_the_session_copy(store):
    session_copy = _user(store, "kim", "knowledge_owner")
    authorize(store, session_copy, "kb.upload")
    store.update_user(session_copy.id, role="specialist")
    # The browser session still says knowledge_owner; the server must not believe it.
    assert can(session_copy, "kb.upload")
    with pytest.raises(PermissionDenied):
        authorize(store, session_copy, "kb.upload")
    store.update_user(session_copy.id, active=False)
    with pytest.raises(PermissionDenied, match="disabled"):
        authorize(store, session_copy, "draft.create")
    with pytest.raises(PermissionDenied):
        authorize(store, None, "draft.create")
    with pytest.raises(PermissionDenied):
        authorize(store, CurrentUser(999, "ghost", "ghost", "admin"), "users.manage")


def test_authenticate_audits_attempts_without_passwords(store, tmp_path):
    _user(store, "sam", "specialist", password="sam-password-1")
    assert authenticate(store, "sam", "wrong-password-9") is None
    assert authenticate(store, "nobody", "whatever-123") is None
    user = authenticate(store, "SAM", "sam-password-1")
    assert user is not None and user.username == "sam"
    assert store.find_user("sam").last_login_at is not None
    actions = [(e.action, e.details.get("reason")) for e in reversed(store.list_audit())]
    assert actions == [("login_failed", "wrong password"), ("login_failed", "unknown user"), ("login", None)]
    store.update_user(user.id, active=False)
    assert authenticate(store, "sam", "sam-password-1") is None
    assert store.list_audit()[0].details["reason"] == "account disabled"
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("auth.db*"))
    for secret in (b"sam-password-1", b"wrong-password-9", b"whatever-123"):
        assert secret not in raw


def test_session_timeout():
    now = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
    assert not session_expired(now - timedelta(minutes=59), now, 60)
    assert session_expired(now - timedelta(minutes=61), now, 60)
    assert session_expired(None, now, 60)
    assert not session_expired(now - timedelta(days=9), now, 0)
