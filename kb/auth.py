"""Local accounts: argon2 password hashes, roles and the permission check every service runs.

Roles and what they may do are defined in one table (:data:`PERMISSIONS`). Service
functions call :func:`authorize` with the acting user *and the store*: the account is
re-read from the database on every call, so a role change or a disabled account takes
effect at once, whatever a browser session still believes. Hiding widgets in the app
is a convenience on top of this, never the check itself.

Passwords are only ever handled as arguments to :func:`hash_password` /
:func:`authenticate`; they are never stored, logged or put into an audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

if TYPE_CHECKING:  # pragma: no cover
    from kb.records import RecordsStore, UserRecord

ROLES: tuple[str, ...] = ("specialist", "knowledge_owner", "qa_reviewer", "admin")
ROLE_LABELS: dict[str, str] = {
    "specialist": "Specialist",
    "knowledge_owner": "Knowledge owner",
    "qa_reviewer": "QA reviewer",
    "admin": "Admin",
}

_SPECIALIST = frozenset({"specialist", "admin"})
_OWNER = frozenset({"knowledge_owner", "admin"})
_QA = frozenset({"qa_reviewer", "admin"})
_ADMIN = frozenset({"admin"})

#: Permission -> roles allowed. Admins may do everything.
PERMISSIONS: dict[str, frozenset[str]] = {
    "draft.create": _SPECIALIST,
    "draft.send": _SPECIALIST,
    "draft.feedback": _SPECIALIST,
    "qa.propose": _SPECIALIST,
    "gap.report": _SPECIALIST,
    "kb.view": _OWNER,
    "kb.upload": _OWNER,
    "kb.retire": _OWNER,
    "qa.approve": _OWNER,
    "gaps.view": _OWNER,
    "review.view": _QA,
    "review.score": _QA,
    "dashboard.view": _QA,
    "users.manage": _ADMIN,
    "audit.view": _ADMIN,
    "settings.view": _ADMIN,
}

MIN_PASSWORD_LENGTH = 8


class PermissionDenied(Exception):
    """The acting user may not do this (wrong role, disabled or unknown account)."""


class AuthError(ValueError):
    """An account operation was refused (bad password, duplicate name, last admin, ...)."""


@dataclass(frozen=True)
class CurrentUser:
    """The signed-in user as the app holds it between requests."""

    id: int
    username: str
    display_name: str
    role: str

    @property
    def role_label(self) -> str:
        """Human name of the role."""
        return ROLE_LABELS.get(self.role, self.role)

    @classmethod
    def from_record(cls, record: "UserRecord") -> "CurrentUser":
        """Build from a stored account."""
        return cls(id=record.id, username=record.username, display_name=record.display_name, role=record.role)


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    # argon2-cffi's defaults follow RFC 9106's second recommended profile.
    return PasswordHasher()


def validate_password(password: str) -> None:
    """Reject passwords that are too short.

    Raises:
        AuthError: the password is shorter than :data:`MIN_PASSWORD_LENGTH`.
    """
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise AuthError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (validated first)."""
    validate_password(password)
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (False for malformed hashes)."""
    try:
        return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash("replydesk-no-such-user")


def validate_role(role: str) -> str:
    """Return ``role`` if it is known.

    Raises:
        AuthError: unknown role.
    """
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}")
    return role


def can(user: CurrentUser | None, permission: str) -> bool:
    """Whether ``user``'s role grants ``permission`` (no database check; for showing widgets)."""
    if user is None:
        return False
    return user.role in PERMISSIONS.get(permission, frozenset())


def authorize(store: "RecordsStore", user: CurrentUser | None, permission: str) -> CurrentUser:
    """The server-side check: re-read the account and test its current role.

    Returns:
        The user as the database currently has them.

    Raises:
        PermissionDenied: not signed in, unknown or disabled account, or a role without ``permission``.
    """
    if permission not in PERMISSIONS:
        raise PermissionDenied(f"unknown permission '{permission}'")
    if user is None:
        raise PermissionDenied("sign in first")
    record = store.get_user(user.id)
    if record is None or not record.active:
        raise PermissionDenied("this account is disabled or no longer exists")
    current = CurrentUser.from_record(record)
    if current.role not in PERMISSIONS[permission]:
        allowed = ", ".join(ROLE_LABELS[r] for r in ROLES if r in PERMISSIONS[permission])
        raise PermissionDenied(f"{ROLE_LABELS.get(current.role, current.role)} accounts may not do this "
                               f"({permission}); allowed: {allowed}")
    return current


def authenticate(store: "RecordsStore", username: str, password: str, *, now: datetime | None = None
                 ) -> CurrentUser | None:
    """Check a username and password; audit the attempt (never the password).

    Returns:
        The signed-in user, or None for a wrong name/password or a disabled account.
    """
    from kb.records import utcnow

    found = store.password_hash(username or "")
    if found is None:
        # Spend the same time as for a real account so timing does not reveal which names exist.
        verify_password(_dummy_hash(), password or "")
        store.audit("login_failed", username=(username or "")[:100], details={"reason": "unknown user"})
        return None
    record, stored = found
    ok = verify_password(stored, password or "")
    if not ok or not record.active:
        reason = "wrong password" if not ok else "account disabled"
        store.audit("login_failed", user_id=record.id, username=record.username, details={"reason": reason})
        return None
    if _hasher().check_needs_rehash(stored) and not record.is_demo:
        # Parameters were raised since this hash was made; upgrade it while we know the password.
        store.update_user(record.id, password_hash=_hasher().hash(password))
    store.update_user(record.id, last_login_at=now or utcnow())
    store.audit("login", user_id=record.id, username=record.username)
    return CurrentUser.from_record(record)


def session_expired(last_activity: datetime | None, now: datetime, timeout_minutes: int) -> bool:
    """Whether a session idle since ``last_activity`` has timed out (``timeout_minutes`` <= 0: never)."""
    if timeout_minutes <= 0:
        return False
    if last_activity is None:
        return True
    return now - last_activity > timedelta(minutes=timeout_minutes)
