"""replydesk web app: sign-in, then the pages the user's role allows.

Run with ``replydesk app`` (or ``streamlit run app/streamlit_app.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run app/streamlit_app.py` puts app/ (not the repository) on sys.path.
_REPO = Path(__file__).resolve().parents[1]
if str(_REPO) not in sys.path:
    sys.path.insert(0, str(_REPO))

import streamlit as st  # noqa: E402

from app import ui  # noqa: E402
from kb.auth import PermissionDenied, can  # noqa: E402
from kb.types import SetupError  # noqa: E402

_HERE = Path(__file__).resolve().parent


def _page(name: str, title: str, icon: str, url: str) -> st.Page:
    # Each url path differs from its file's stem on purpose: because the folder is called
    # pages/, Streamlit's legacy multipage mode can be active for a run before st.navigation
    # is called, and it would then run a page whose stem matches the URL without this script
    # (no session check, no sidebar).
    return st.Page(str(_HERE / "pages" / name), title=title, icon=icon, url_path=url)


def main() -> None:
    """Route to the sign-in page or to the signed-in user's pages."""
    st.set_page_config(page_title=ui.APP_TITLE, page_icon=":material/support_agent:", layout="wide")
    ui.apply_style()
    user = ui.current_user()
    if user is None:
        page = st.navigation([_page("login.py", "Sign in", ":material/login:", "sign-in")], position="hidden")
        page.run()
        return
    pages = []
    if can(user, "draft.create"):
        pages.append(_page("draft.py", "Draft a reply", ":material/edit_note:", "draft-reply"))
    if can(user, "kb.view"):
        pages.append(_page("knowledge_base.py", "Knowledge base", ":material/library_books:", "knowledge-base"))
    if can(user, "review.view"):
        pages.append(_page("qa_review.py", "QA review", ":material/fact_check:", "qa-review"))
    if can(user, "users.manage"):
        pages.append(_page("admin.py", "Admin", ":material/admin_panel_settings:", "administration"))
    with st.sidebar:
        st.html('<div class="rd-brand">replydesk</div>')
        st.html(f'<div class="rd-user"><b>{user.display_name}</b><br>'
                f'<span class="rd-role">{user.username} · {user.role_label}</span></div>')
        if st.button("Sign out", icon=":material/logout:", key="rd_sign_out", width="stretch"):
            ui.workspace().store.audit("logout", user_id=user.id, username=user.username)
            ui.sign_out()
            st.rerun()
    page = st.navigation(pages)
    ui.show_flashes()
    try:
        page.run()
    except PermissionDenied as exc:
        # Services check roles themselves; this only turns a refusal into a readable message.
        st.error(f"Not allowed: {exc}", icon=":material/block:")
    except SetupError as exc:
        # The model or the index is not usable as configured: say how to fix it, not a traceback.
        st.error(f"replydesk cannot work with this setup: {exc}", icon=":material/error:")


main()
