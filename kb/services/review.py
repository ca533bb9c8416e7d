"""QA-reviewer services: the sampled review queue, rubric scoring, the dashboard data and
repeat-complaint clusters."""

from __future__ import annotations

import difflib
import hashlib
import html
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Sequence

import pandas as pd

from kb.auth import AuthError, CurrentUser, authorize
from kb.drafting.text import reply_text
from kb.records import RUBRIC, DraftRecord, QAScoreRecord, since_days
from kb.services.grouping import DEFAULT_THRESHOLD, group_texts
from kb.services.workspace import Workspace
from kb.types import NotFoundError

_SAMPLE_SALT = "replydesk-qa-sample"


@dataclass(frozen=True)
class SamplingSettings:
    """Which sent drafts go into the review queue.

    Attributes:
        percent: share of sent drafts sampled (deterministic per draft, so a draft stays in
            or out of the sample however often the queue is loaded).
        always_high_risk: every high-risk draft is reviewed, sampled or not.
        include_scored: also list drafts that already have a score.
        modes: only these drafting modes (empty: all).
        days: only drafts sent in the last ``days`` days.
    """

    percent: int = 100
    always_high_risk: bool = True
    include_scored: bool = False
    modes: tuple[str, ...] = ()
    days: int = 30


def in_sample(draft_id: int, percent: int) -> bool:
    """Deterministic sampling of a draft id at ``percent`` %."""
    if percent >= 100:
        return True
    if percent <= 0:
        return False
    digest = hashlib.sha256(f"{_SAMPLE_SALT}:{draft_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < percent


def review_queue(ws: Workspace, actor: CurrentUser, sampling: SamplingSettings = SamplingSettings()
                 ) -> list[DraftRecord]:
    """Sent drafts to review, high-risk first, then newest first."""
    authorize(ws.store, actor, "review.view")
    scored = ws.store.scored_draft_ids()
    out = []
    for draft in ws.store.list_drafts(status="sent", since=since_days(sampling.days)):
        if not sampling.include_scored and draft.id in scored:
            continue
        if sampling.modes and draft.mode not in sampling.modes:
            continue
        high = draft.risk_level == "high"
        if in_sample(draft.id, sampling.percent) or (high and sampling.always_high_risk):
            out.append(draft)
    out.sort(key=lambda d: (d.risk_level != "high", -d.id))
    return out


def get_review_item(ws: Workspace, actor: CurrentUser, draft_id: int) -> tuple[DraftRecord, list[QAScoreRecord]]:
    """A sent draft and the scores it already has.

    Raises:
        KeyError: unknown draft.
    """
    authorize(ws.store, actor, "review.view")
    draft = ws.store.get_draft(draft_id)
    if draft is None:
        raise NotFoundError("draft", draft_id)
    return draft, ws.store.list_qa_scores(draft_id)


def score_draft(ws: Workspace, actor: CurrentUser, draft_id: int, scores: dict[str, int], comment: str = "") -> int:
    """Store rubric scores (1-5 each) for a sent draft; audited.

    Raises:
        AuthError: the draft is not sent yet, or the reviewer wrote it.
        ValueError: scores missing or out of range. KeyError: unknown draft.
    """
    actor = authorize(ws.store, actor, "review.score")
    draft = ws.store.get_draft(draft_id)
    if draft is None:
        raise NotFoundError("draft", draft_id)
    if draft.status != "sent":
        raise AuthError("only drafts marked as sent can be scored")
    if draft.user_id == actor.id:
        raise AuthError("reviewers cannot score their own drafts")
    score_id = ws.store.add_qa_score(draft_id, actor.id, {k: int(v) for k, v in scores.items()}, comment)
    ws.store.audit("qa_score", user_id=actor.id, username=actor.username, target=f"draft {draft_id}",
                   details={**scores, "comment": comment[:500]})
    return score_id


def word_diff_html(old: str, new: str) -> str:
    """Word-level diff as HTML: deletions in ``<del>``, insertions in ``<ins>``; whitespace and line
    breaks are kept."""
    a, b = re.findall(r"\S+|\s+", old), re.findall(r"\S+|\s+", new)

    def render(tokens: list[str]) -> str:
        return html.escape("".join(tokens)).replace("\n", "<br>")

    out: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(render(a[i1:i2]))
            continue
        if op in ("delete", "replace"):
            out.append(f'<del class="rd-del">{render(a[i1:i2])}</del>')
        if op in ("insert", "replace"):
            out.append(f'<ins class="rd-ins">{render(b[j1:j2])}</ins>')
    return "".join(out)


def sent_edits_html(draft: DraftRecord) -> str:
    """What the specialist changed before sending, as a word diff (:func:`word_diff_html`)
    from the draft as it was offered to send, without its citation markers."""
    return word_diff_html(reply_text(draft.draft_text), draft.final_text or "")


# ---- dashboard ------------------------------------------------------------------------
@dataclass
class Dashboard:
    """Everything the QA dashboard shows (pandas frames ready for Altair)."""

    summary: dict[str, float | int | None]
    daily: pd.DataFrame          # date, generated, sent, high_risk, acceptance_rate, escalation_rate, mean_edit_ratio
    scores: pd.DataFrame         # date, criterion, score  (daily means per criterion)
    topics: pd.DataFrame         # topic, drafts, sent
    modes: pd.DataFrame          # date, mode, drafts
    score_means: dict[str, float] = field(default_factory=dict)


def dashboard(ws: Workspace, actor: CurrentUser, *, days: int = 30) -> Dashboard:
    """Quality numbers over the last ``days`` days.

    Definitions: *acceptance rate* = drafts marked sent / drafts generated; *edit ratio* =
    normalised Levenshtein distance between draft and sent text (0 = sent unchanged);
    *escalation rate* = share of drafts whose ticket was high risk.
    """
    authorize(ws.store, actor, "dashboard.view")
    drafts = ws.store.list_drafts(since=since_days(days))
    scores = [s for s in ws.store.list_qa_scores() if s.created_at >= since_days(days)]
    rows = [{"date": d.created_at.date(), "sent": d.status == "sent", "high": d.risk_level == "high",
             "edit_ratio": d.edit_ratio, "edit_distance": d.edit_distance, "mode": d.mode,
             "topic": d.topic or "(no guidance)"} for d in drafts]
    frame = pd.DataFrame(rows, columns=["date", "sent", "high", "edit_ratio", "edit_distance", "mode", "topic"])
    if frame.empty:
        daily = pd.DataFrame(columns=["date", "generated", "sent", "high_risk", "acceptance_rate",
                                      "escalation_rate", "mean_edit_ratio"])
        topics = pd.DataFrame(columns=["topic", "drafts", "sent"])
        modes = pd.DataFrame(columns=["date", "mode", "drafts"])
    else:
        frame["edit_ratio"] = pd.to_numeric(frame["edit_ratio"], errors="coerce")
        frame["edit_distance"] = pd.to_numeric(frame["edit_distance"], errors="coerce")
        grouped = frame.groupby("date")
        daily = pd.DataFrame({
            "generated": grouped.size(),
            "sent": grouped["sent"].sum(),
            "high_risk": grouped["high"].sum(),
            "mean_edit_ratio": grouped["edit_ratio"].mean(),
        }).reset_index()
        daily["acceptance_rate"] = daily["sent"] / daily["generated"]
        daily["escalation_rate"] = daily["high_risk"] / daily["generated"]
        daily["date"] = pd.to_datetime(daily["date"])
        topics = (frame.groupby("topic").agg(drafts=("topic", "size"), sent=("sent", "sum")).reset_index()
                  .sort_values(["drafts", "topic"], ascending=[False, True]).head(10))
        modes = frame.groupby(["date", "mode"]).size().rename("drafts").reset_index()
        modes["date"] = pd.to_datetime(modes["date"])
    score_rows = [{"date": s.created_at.date(), "criterion": name, "score": value}
                  for s in scores for name, value in s.scores.items()]
    score_frame = pd.DataFrame(score_rows, columns=["date", "criterion", "score"])
    if not score_frame.empty:
        score_frame = score_frame.groupby(["date", "criterion"])["score"].mean().reset_index()
        score_frame["date"] = pd.to_datetime(score_frame["date"])
    score_means = {name: sum(s.scores[name] for s in scores) / len(scores) for name in RUBRIC} if scores else {}
    sent = frame[frame["sent"]] if not frame.empty else frame
    summary = {
        "drafts": len(frame),
        "sent": int(frame["sent"].sum()) if not frame.empty else 0,
        "acceptance_rate": float(frame["sent"].mean()) if not frame.empty else None,
        "mean_edit_distance": float(sent["edit_distance"].mean()) if len(sent) else None,
        "mean_edit_ratio": float(sent["edit_ratio"].mean()) if len(sent) else None,
        "escalation_rate": float(frame["high"].mean()) if not frame.empty else None,
        "reviews": len(scores),
        "mean_score": (sum(s.mean for s in scores) / len(scores)) if scores else None,
    }
    return Dashboard(summary=summary, daily=daily, scores=score_frame, topics=topics, modes=modes,
                     score_means=score_means)


@dataclass(frozen=True)
class ComplaintCluster:
    """Tickets that say (roughly) the same thing."""

    size: int
    example: str
    tickets: tuple[str, ...]
    draft_ids: tuple[int, ...]
    topics: tuple[str, ...]
    first_seen: datetime
    last_seen: datetime


def repeat_complaints(ws: Workspace, actor: CurrentUser, *, days: int = 30, threshold: float = DEFAULT_THRESHOLD,
                      min_size: int = 2) -> list[ComplaintCluster]:
    """Clusters of similar tickets (embeddings) with at least ``min_size`` members, largest first."""
    authorize(ws.store, actor, "dashboard.view")
    drafts = ws.store.list_drafts(since=since_days(days))
    # One ticket regenerated three times is one complaint, not three.
    unique: dict[str, DraftRecord] = {}
    for draft in sorted(drafts, key=lambda d: d.id):
        unique.setdefault(" ".join(draft.ticket_text.split()).lower(), draft)
    items: Sequence[DraftRecord] = list(unique.values())
    if not items:
        return []
    out = []
    for group in group_texts([d.ticket_text for d in items], ws.embed, threshold):
        if group.size < min_size:
            continue
        members = [items[i] for i in group.members]
        topics = Counter(d.topic for d in members if d.topic)
        out.append(ComplaintCluster(size=group.size, example=items[group.representative].ticket_text,
                                    tickets=tuple(d.ticket_text for d in members),
                                    draft_ids=tuple(d.id for d in members),
                                    topics=tuple(t for t, _ in topics.most_common(3)),
                                    first_seen=min(d.created_at for d in members),
                                    last_seen=max(d.created_at for d in members)))
    return out
