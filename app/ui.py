"""Shared helpers of the Streamlit pages: settings, the cached workspace, the session, styling.

Heavy resources (records store, knowledge base, embedding model) live in one
:class:`kb.services.workspace.Workspace` per configuration, cached with
``st.cache_resource`` so every session and rerun shares them.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Sequence

import streamlit as st

from kb.auth import AuthError, CurrentUser, PermissionDenied, can, session_expired
from kb.config import Settings
from kb.services.workspace import Workspace

USER_KEY = "rd_user"
LAST_SEEN_KEY = "rd_last_seen"
NOTICE_KEY = "rd_notice"

APP_TITLE = "replydesk"

_CSS = """
<style>
  .block-container {padding-top: 2.2rem; padding-bottom: 3rem; max-width: 1280px;}
  [data-testid="stSidebar"] .rd-brand {font-weight: 700; font-size: 1.15rem; letter-spacing: .01em;
                                         margin-bottom: .2rem;}
  [data-testid="stSidebar"] .rd-user {font-size: 0.9rem; line-height: 1.35; margin-bottom: .4rem;}
  [data-testid="stSidebar"] .rd-user .rd-role {color: #6b7280; font-size: 0.8rem;}
  .rd-subtitle {color: #6b7280; margin-top: -0.6rem; margin-bottom: 1.1rem;}
  .rd-badge {display: inline-block; padding: 0 .45rem; border-radius: .6rem; font-size: .72rem;
             font-weight: 600; vertical-align: middle; margin-left: .35rem;}
  .rd-badge-internal {background: #fde8e8; color: #9b1c1c;}
  .rd-badge-external {background: #e1effe; color: #1e429f;}
  .rd-badge-qa {background: #edebfe; color: #5521b5;}
  .rd-source-meta {color: #6b7280; font-size: .8rem;}
  .rd-passage {font-size: .88rem; line-height: 1.45; white-space: pre-wrap;}
  .rd-draft {font-size: .95rem; line-height: 1.6; white-space: pre-wrap; padding: .2rem .1rem;}
  .rd-unsupported {background: #fff3c4; border-bottom: 2px solid #f59e0b; padding: 0 .1rem;}
  .rd-cite {font-size: .78rem; font-weight: 600; text-decoration: none; color: #1d4ed8;
            background: #e8efff; border-radius: .3rem; padding: 0 .25rem; margin-left: .1rem;}
  .rd-fill {background: #e0e7ff; color: #3730a3; border-radius: .25rem; padding: 0 .15rem;}
  .rd-diff {font-size: .9rem; line-height: 1.6; white-space: pre-wrap;}
  .rd-diff del {background: #fde2e2; color: #9b1c1c;}
  .rd-diff ins {background: #def7ec; color: #03543f; text-decoration: none;}
  .rd-anchor {position: relative; top: -4.5rem; visibility: hidden;}
</style>
"""


def load_settings() -> Settings:
    """Settings from the environment / ``.env`` (the app is an edge, so it may read them)."""
    return Settings()


def run_ingest(kb, paths: Sequence[Path], metadata: dict):
    """The ingest runner handed to the workspace (``kb`` must not import ``ingest`` itself)."""
    from ingest.pipeline import Ingestor, MetadataDefaults

    return Ingestor(kb).ingest_paths(list(paths), MetadataDefaults(**metadata))


@st.cache_resource(show_spinner=False)
def _open_workspace(key: str, _settings: Settings) -> Workspace:
    ws = Workspace(_settings, ingest_runner=run_ingest)
    # The model loads (~5 s) while the first user signs in, not on their first draft.
    if _settings.warm_up:
        ws.start_warm_up()
    return ws


def workspace() -> Workspace:
    """The shared workspace of the current configuration."""
    settings = load_settings()
    return _open_workspace(settings.model_dump_json(), settings)


def apply_style() -> None:
    """Inject the app's small stylesheet (once per run)."""
    st.html(_CSS)


def now() -> datetime:
    """Current UTC time."""
    return datetime.now(timezone.utc)


def current_user() -> CurrentUser | None:
    """The signed-in user, or None; signs out sessions idle longer than the timeout."""
    user = st.session_state.get(USER_KEY)
    if user is None:
        return None
    timeout = load_settings().session_timeout_minutes
    if session_expired(st.session_state.get(LAST_SEEN_KEY), now(), timeout):
        sign_out(notice=f"Your session expired after {timeout} minutes without activity. Please sign in again.")
        return None
    # The account may have been disabled or given another role since sign-in: follow the database.
    record = workspace().store.get_user(user.id)
    if record is None or not record.active:
        sign_out(notice="Your account was disabled. Ask an administrator if this is unexpected.")
        return None
    fresh = CurrentUser.from_record(record)
    if fresh != user:
        st.session_state[USER_KEY] = fresh
    st.session_state[LAST_SEEN_KEY] = now()
    return fresh


def sign_in(user: CurrentUser) -> None:
    """Start a session for ``user``."""
    st.session_state[USER_KEY] = user
    st.session_state[LAST_SEEN_KEY] = now()
    st.session_state.pop(NOTICE_KEY, None)


def sign_out(notice: str | None = None) -> None:
    """End the session (and drop everything the pages kept in it)."""
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if notice:
        st.session_state[NOTICE_KEY] = notice


def require_user(permission: str) -> CurrentUser:
    """The signed-in user if their role allows ``permission``; otherwise explain and stop the page."""
    user = current_user()
    if user is None:
        st.warning("Please sign in.")
        st.stop()
    if not can(user, permission):
        st.error(f"Your role ({user.role_label}) does not give access to this page.")
        st.stop()
    return user


def header(title: str, subtitle: str = "") -> None:
    """Page title with an optional grey subtitle."""
    st.title(title, anchor=False)
    if subtitle:
        st.html(f'<div class="rd-subtitle">{subtitle}</div>')


@contextlib.contextmanager
def service_errors() -> Iterator[None]:
    """Show refused or invalid actions as error messages instead of tracebacks."""
    try:
        yield
    except PermissionDenied as exc:
        st.error(f"Not allowed: {exc}", icon=":material/block:")
    except (AuthError, ValueError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        st.error(str(message), icon=":material/error:")


def flash(message: str, icon: str = ":material/check_circle:") -> None:
    """Show a toast on the next run (survives ``st.rerun``)."""
    st.session_state.setdefault("rd_flash", []).append((message, icon))


def show_flashes() -> None:
    """Show queued toasts."""
    for message, icon in st.session_state.pop("rd_flash", []):
        st.toast(message, icon=icon)


def fmt_time(value: datetime | None) -> str:
    """Short UTC timestamp."""
    if value is None:
        return "—"
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M")
