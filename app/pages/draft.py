"""Draft a reply (specialists)."""

from __future__ import annotations

from app import ui

user = ui.require_user("draft.create")
ui.header("Draft a reply", "Paste the ticket; get a grounded, cited draft.")
