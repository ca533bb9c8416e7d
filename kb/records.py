"""The records store: accounts, drafts, feedback, QA scores, knowledge gaps, proposed Q&A, audit log.

Every table lives in the same database as the document catalog (:mod:`kb.catalog`):
SQLite in WAL mode under the data home by default, any SQLAlchemy URL by setting
(``REPLYDESK_DATABASE_URL``).

Schema management: :func:`migrate` brings a database to the newest Alembic revision
(``migrations/`` at the repository root) and :class:`RecordsStore` calls it once per URL
per process before it opens a session. Because :func:`kb.db.get_engine` also runs
``create_all`` for whoever touches the database first (the CLI's ``ingest`` does), a
database can already hold the current tables without an ``alembic_version`` row; such a
database is *stamped* at head instead of migrated, since ``create_all`` built it from the
very models the head revision describes. A database with an ``alembic_version`` row is
always upgraded with ``alembic upgrade head``.

Ticket text is PII-redacted (:func:`kb.pii.redact`) before it is stored, whatever the
caller already did: the store is the last line of defence for what ends up on disk.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    inspect,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from kb.db import Base, session_factory
from kb.drafting.text import reply_text
from kb.types import NotFoundError

#: Folder holding ``alembic.ini``'s script location (``env.py`` and ``versions/``).
MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"

#: QA rubric criteria, each scored 1-5.
RUBRIC: tuple[str, ...] = ("accuracy", "policy_compliance", "tone", "completeness", "citation_correctness")
RUBRIC_LABELS: dict[str, str] = {
    "accuracy": "Accuracy",
    "policy_compliance": "Policy compliance",
    "tone": "Tone",
    "completeness": "Completeness",
    "citation_correctness": "Citation correctness",
}
PROPOSAL_STATUSES: tuple[str, ...] = ("pending", "approved", "rejected")

# Passages stored with a draft or gap are trimmed: the catalog keeps the full text by chunk id.
_MAX_PASSAGE_CHARS = 1500


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def as_utc(value: datetime | None) -> datetime | None:
    """Treat naive datetimes (SQLite drops the zone) as UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _redact(text: str | None) -> str:
    if not text:
        return ""
    from kb.pii import redact

    return redact(text).text


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _trim_hits(hits: Iterable[dict]) -> list[dict]:
    out = []
    for hit in hits:
        item = dict(hit)
        text = item.get("text")
        if isinstance(text, str) and len(text) > _MAX_PASSAGE_CHARS:
            item["text"] = text[:_MAX_PASSAGE_CHARS] + "…"
        out.append(item)
    return out


# ---- tables ---------------------------------------------------------------------------
class UserRow(Base):
    """A local account; the password is kept only as an argon2 hash."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), unique=True, index=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(30))
    password_hash: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Created by ``replydesk demo load`` and still using the published demo password.
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class DraftRow(Base):
    """One generated draft, and what the specialist finally sent."""

    __tablename__ = "drafts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True, index=True)
    ticket_text: Mapped[str] = mapped_column(Text)  # PII-redacted
    context_text: Mapped[str] = mapped_column(Text, default="")  # PII-redacted
    channel: Mapped[str | None] = mapped_column(String(50), nullable=True)
    region: Mapped[str | None] = mapped_column(String(50), nullable=True)
    language: Mapped[str | None] = mapped_column(String(20), nullable=True)
    tone: Mapped[str | None] = mapped_column(String(50), nullable=True)
    length: Mapped[str | None] = mapped_column(String(50), nullable=True)
    mode: Mapped[str] = mapped_column(String(30), index=True)
    risk_level: Mapped[str] = mapped_column(String(20), default="normal", index=True)
    risk_categories_json: Mapped[str] = mapped_column(Text, default="[]")
    queue: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    topic: Mapped[str | None] = mapped_column(String(300), nullable=True, index=True)
    hits_json: Mapped[str] = mapped_column(Text, default="[]")
    citations_json: Mapped[str] = mapped_column(Text, default="[]")
    draft_text: Mapped[str] = mapped_column(Text)
    final_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    edit_distance: Mapped[int | None] = mapped_column(Integer, nullable=True)
    edit_ratio: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)  # draft | sent
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    timings_json: Mapped[str] = mapped_column(Text, default="{}")
    total_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    grounding: Mapped[float | None] = mapped_column(Float, nullable=True)
    insufficient_guidance: Mapped[bool] = mapped_column(Boolean, default=False)
    fallback_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    redaction_count: Mapped[int] = mapped_column(Integer, default=0)


class FeedbackRow(Base):
    """Thumbs up / down on a draft, with an optional reason."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    rating: Mapped[str] = mapped_column(String(10))  # up | down
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (CheckConstraint("rating IN ('up', 'down')", name="ck_feedback_rating"),)


class QAScoreRow(Base):
    """A QA reviewer's rubric scores (1-5) for one sent draft."""

    __tablename__ = "qa_scores"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    accuracy: Mapped[int] = mapped_column(Integer)
    policy_compliance: Mapped[int] = mapped_column(Integer)
    tone: Mapped[int] = mapped_column(Integer)
    completeness: Mapped[int] = mapped_column(Integer)
    citation_correctness: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)

    __table_args__ = (
        UniqueConstraint("draft_id", "reviewer_id", name="uq_qa_scores_draft_reviewer"),
        *(CheckConstraint(f"{name} BETWEEN 1 AND 5", name=f"ck_qa_scores_{name}") for name in RUBRIC),
    )


class KnowledgeGapRow(Base):
    """A ticket for which the knowledge base had no (good enough) guidance."""

    __tablename__ = "knowledge_gaps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    ticket_text: Mapped[str] = mapped_column(Text)  # PII-redacted
    hits_json: Mapped[str] = mapped_column(Text, default="[]")
    top_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    source: Mapped[str] = mapped_column(String(20), default="auto")  # auto | reported
    reported_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    draft_id: Mapped[int | None] = mapped_column(ForeignKey("drafts.id"), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)  # open | resolved


class ProposedQARow(Base):
    """A question/answer pair proposed from a sent reply, waiting for the knowledge owner."""

    __tablename__ = "proposed_qa"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    proposed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    draft_id: Mapped[int | None] = mapped_column(ForeignKey("drafts.id"), nullable=True)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    review_note: Mapped[str] = mapped_column(Text, default="")
    doc_id: Mapped[str | None] = mapped_column(String(300), nullable=True)

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="ck_proposed_qa_status"),
    )


class AuditRow(Base):
    """Who did what to which thing, when. Never holds a password."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    # Denormalised so the log stays readable whatever happens to the account later.
    username: Mapped[str] = mapped_column(String(100), default="")
    action: Mapped[str] = mapped_column(String(100), index=True)
    target: Mapped[str] = mapped_column(String(500), default="")
    details_json: Mapped[str] = mapped_column(Text, default="{}")


class AppStateRow(Base):
    """Small key/value flags of the application (e.g. whether the demo was loaded)."""

    __tablename__ = "app_state"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")


# ---- plain records handed to callers ----------------------------------------------------
@dataclass(frozen=True)
class UserRecord:
    """An account without its password hash."""

    id: int
    username: str
    display_name: str
    role: str
    active: bool
    is_demo: bool
    created_at: datetime
    last_login_at: datetime | None


@dataclass(frozen=True)
class DraftRecord:
    """A stored draft (JSON columns decoded)."""

    id: int
    created_at: datetime
    user_id: int | None
    username: str
    ticket_text: str
    context_text: str
    channel: str | None
    region: str | None
    language: str | None
    tone: str | None
    length: str | None
    mode: str
    risk_level: str
    risk_categories: tuple[str, ...]
    queue: str | None
    topic: str | None
    hits: tuple[dict, ...]
    citations: tuple[dict, ...]
    draft_text: str
    final_text: str | None
    edit_distance: int | None
    edit_ratio: float | None
    status: str
    sent_at: datetime | None
    timings: dict
    total_ms: float | None
    grounding: float | None
    insufficient_guidance: bool
    fallback_reason: str | None


@dataclass(frozen=True)
class QAScoreRecord:
    """One rubric score."""

    id: int
    draft_id: int
    reviewer_id: int
    reviewer: str
    scores: dict[str, int]
    comment: str
    created_at: datetime

    @property
    def mean(self) -> float:
        """Mean of the rubric scores."""
        return sum(self.scores.values()) / len(self.scores)


@dataclass(frozen=True)
class GapRecord:
    """One knowledge gap."""

    id: int
    created_at: datetime
    ticket_text: str
    hits: tuple[dict, ...]
    top_score: float | None
    source: str
    reported_by: str | None
    draft_id: int | None
    note: str
    status: str


@dataclass(frozen=True)
class ProposalRecord:
    """One proposed Q&A pair."""

    id: int
    created_at: datetime
    question: str
    answer: str
    status: str
    proposed_by: str | None
    draft_id: int | None
    reviewer: str | None
    reviewed_at: datetime | None
    review_note: str
    doc_id: str | None


@dataclass(frozen=True)
class AuditRecord:
    """One audit-log entry."""

    id: int
    at: datetime
    username: str
    action: str
    target: str
    details: dict


@dataclass(frozen=True)
class FeedbackRecord:
    """One thumbs up/down."""

    id: int
    draft_id: int
    username: str
    rating: str
    reason: str
    created_at: datetime


# ---- migrations -----------------------------------------------------------------------
_MIGRATED: set[str] = set()
_MIGRATE_LOCK = threading.Lock()


def alembic_config(url: str):
    """An Alembic ``Config`` for ``url`` that works from any working directory."""
    from alembic.config import Config

    config = Config(str(MIGRATIONS_DIR.parent / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation: a literal '%' in a URL (encoded password) must be doubled.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _sqlite_connect(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def migrate(url: str) -> str:
    """Bring the database at ``url`` to the newest schema revision.

    Returns:
        What was done: ``"upgraded"`` (Alembic ran its migrations) or ``"stamped"``
        (tables created by ``create_all`` were recorded as the head revision).
    """
    from alembic import command

    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    # A private engine, not kb.db.get_engine: that one would create_all before Alembic could run.
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
    config = alembic_config(url)
    try:
        with engine.begin() as connection:
            tables = set(inspect(connection).get_table_names())
            config.attributes["connection"] = connection
            if "alembic_version" in tables or not tables & _known_tables():
                command.upgrade(config, "head")
                return "upgraded"
            # Built by create_all from the current models: add anything missing, then record head.
            import kb.catalog  # noqa: F401 - registers the kb_* tables on Base

            Base.metadata.create_all(connection)
            command.stamp(config, "head")
            return "stamped"
    finally:
        engine.dispose()


def _known_tables() -> set[str]:
    import kb.catalog  # noqa: F401 - registers the kb_* tables on Base

    return set(Base.metadata.tables)


def ensure_migrated(url: str) -> None:
    """Run :func:`migrate` once per URL per process."""
    with _MIGRATE_LOCK:
        if url not in _MIGRATED:
            migrate(url)
            _MIGRATED.add(url)


def forget_migrations() -> None:
    """Forget which URLs were migrated in this process (tests use fresh databases)."""
    with _MIGRATE_LOCK:
        _MIGRATED.clear()


# ---- the store ------------------------------------------------------------------------
class RecordsStore:
    """Reads and writes of the records tables.

    Args:
        url: SQLAlchemy URL (``Settings.records_url``). The schema is migrated on first use.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        ensure_migrated(url)
        self._sessions: sessionmaker = session_factory(url)

    def session(self) -> Session:
        """A new ORM session."""
        return self._sessions()

    # ---- users ------------------------------------------------------------------------
    def create_user(self, username: str, password_hash: str, role: str, *, display_name: str = "",
                    is_demo: bool = False) -> UserRecord:
        """Add an account (the caller hashes the password).

        Raises:
            ValueError: the username is taken or empty.
        """
        username = username.strip()
        if not username:
            raise ValueError("username must not be empty")
        with self.session() as session, session.begin():
            if session.scalar(select(UserRow).where(func.lower(UserRow.username) == username.lower())):
                raise ValueError(f"user '{username}' already exists")
            row = UserRow(username=username, display_name=display_name or username, role=role,
                          password_hash=password_hash, active=True, is_demo=is_demo, created_at=utcnow())
            session.add(row)
            session.flush()
            return self._user(row)

    def get_user(self, user_id: int) -> UserRecord | None:
        """The account with ``user_id``."""
        with self.session() as session:
            row = session.get(UserRow, user_id)
            return self._user(row) if row else None

    def find_user(self, username: str) -> UserRecord | None:
        """The account named ``username`` (case-insensitive)."""
        with self.session() as session:
            row = session.scalar(select(UserRow).where(func.lower(UserRow.username) == username.strip().lower()))
            return self._user(row) if row else None

    def password_hash(self, username: str) -> tuple[UserRecord, str] | None:
        """The account and its stored hash, for verification only."""
        with self.session() as session:
            row = session.scalar(select(UserRow).where(func.lower(UserRow.username) == username.strip().lower()))
            return (self._user(row), row.password_hash) if row else None

    def list_users(self) -> list[UserRecord]:
        """All accounts, by username."""
        with self.session() as session:
            return [self._user(r) for r in session.scalars(select(UserRow).order_by(UserRow.username))]

    def update_user(self, user_id: int, *, role: str | None = None, active: bool | None = None,
                    password_hash: str | None = None, display_name: str | None = None,
                    last_login_at: datetime | None = None) -> UserRecord:
        """Change fields of an account; a new password clears the demo flag.

        Raises:
            KeyError: unknown ``user_id``.
        """
        with self.session() as session, session.begin():
            row = session.get(UserRow, user_id)
            if row is None:
                raise NotFoundError("user", user_id)
            if role is not None:
                row.role = role
            if active is not None:
                row.active = active
            if password_hash is not None:
                row.password_hash = password_hash
                row.is_demo = False
            if display_name is not None:
                row.display_name = display_name
            if last_login_at is not None:
                row.last_login_at = last_login_at
            session.flush()
            return self._user(row)

    def count_admins(self, *, active_only: bool = True) -> int:
        """Number of admin accounts."""
        with self.session() as session:
            query = select(func.count()).select_from(UserRow).where(UserRow.role == "admin")
            if active_only:
                query = query.where(UserRow.active.is_(True))
            return session.scalar(query) or 0

    @staticmethod
    def _user(row: UserRow) -> UserRecord:
        return UserRecord(id=row.id, username=row.username, display_name=row.display_name or row.username,
                          role=row.role, active=bool(row.active), is_demo=bool(row.is_demo),
                          created_at=as_utc(row.created_at), last_login_at=as_utc(row.last_login_at))

    # ---- drafts -----------------------------------------------------------------------
    def add_draft(self, *, user_id: int | None, ticket_text: str, context_text: str = "", draft_text: str,
                  mode: str, risk_level: str = "normal", risk_categories: Sequence[str] = (),
                  hits: Sequence[dict] = (), citations: Sequence[dict] = (), channel: str | None = None,
                  region: str | None = None, language: str | None = None, tone: str | None = None,
                  length: str | None = None, queue: str | None = None, topic: str | None = None,
                  timings: dict | None = None, grounding: float | None = None,
                  insufficient_guidance: bool = False, fallback_reason: str | None = None,
                  redaction_count: int = 0, created_at: datetime | None = None) -> int:
        """Store a generated draft; ticket and context are redacted here. Returns its id."""
        timings = dict(timings or {})
        total = timings.get("total_ms")
        with self.session() as session, session.begin():
            row = DraftRow(user_id=user_id, ticket_text=_redact(ticket_text), context_text=_redact(context_text),
                           channel=channel, region=region, language=language, tone=tone, length=length,
                           mode=mode, risk_level=risk_level, risk_categories_json=_dumps(list(risk_categories)),
                           queue=queue, topic=topic, hits_json=_dumps(_trim_hits(hits)),
                           citations_json=_dumps(list(citations)), draft_text=draft_text, status="draft",
                           timings_json=_dumps(timings), total_ms=float(total) if total is not None else None,
                           grounding=grounding, insufficient_guidance=insufficient_guidance,
                           fallback_reason=fallback_reason, redaction_count=redaction_count,
                           created_at=created_at or utcnow())
            session.add(row)
            session.flush()
            return row.id

    def mark_sent(self, draft_id: int, final_text: str, *, sent_at: datetime | None = None) -> DraftRecord:
        """Record the text that was sent and how far it is from the draft.

        ``edit_distance`` is the Levenshtein distance in characters from the draft as the
        reader gets it (citation markers removed, :func:`kb.drafting.text.reply_text`);
        ``edit_ratio`` is it normalised to 0..1 (0 = sent unchanged).

        Raises:
            KeyError: unknown ``draft_id``.
        """
        from rapidfuzz.distance import Levenshtein

        with self.session() as session, session.begin():
            row = session.get(DraftRow, draft_id)
            if row is None:
                raise NotFoundError("draft", draft_id)
            row.final_text = final_text
            # Removing the markers is not an edit; the send box starts without them.
            offered = reply_text(row.draft_text)
            row.edit_distance = int(Levenshtein.distance(offered, final_text))
            row.edit_ratio = float(Levenshtein.normalized_distance(offered, final_text))
            row.status = "sent"
            row.sent_at = sent_at or utcnow()
        return self.get_draft(draft_id)

    def get_draft(self, draft_id: int) -> DraftRecord | None:
        """One draft by id."""
        with self.session() as session:
            row = session.get(DraftRow, draft_id)
            if row is None:
                return None
            return self._draft(row, self._usernames(session))

    def list_drafts(self, *, status: str | None = None, since: datetime | None = None,
                    limit: int | None = None) -> list[DraftRecord]:
        """Drafts, newest first."""
        with self.session() as session:
            query = select(DraftRow).order_by(DraftRow.created_at.desc(), DraftRow.id.desc())
            if status:
                query = query.where(DraftRow.status == status)
            if since:
                query = query.where(DraftRow.created_at >= since)
            if limit:
                query = query.limit(limit)
            names = self._usernames(session)
            return [self._draft(r, names) for r in session.scalars(query)]

    @staticmethod
    def _usernames(session: Session) -> dict[int, str]:
        return dict(session.execute(select(UserRow.id, UserRow.username)).all())

    @staticmethod
    def _draft(row: DraftRow, names: dict[int, str]) -> DraftRecord:
        return DraftRecord(
            id=row.id, created_at=as_utc(row.created_at), user_id=row.user_id,
            username=names.get(row.user_id, "") if row.user_id else "", ticket_text=row.ticket_text,
            context_text=row.context_text or "", channel=row.channel, region=row.region, language=row.language,
            tone=row.tone, length=row.length, mode=row.mode, risk_level=row.risk_level,
            risk_categories=tuple(json.loads(row.risk_categories_json or "[]")), queue=row.queue, topic=row.topic,
            hits=tuple(json.loads(row.hits_json or "[]")), citations=tuple(json.loads(row.citations_json or "[]")),
            draft_text=row.draft_text, final_text=row.final_text, edit_distance=row.edit_distance,
            edit_ratio=row.edit_ratio, status=row.status, sent_at=as_utc(row.sent_at),
            timings=json.loads(row.timings_json or "{}"), total_ms=row.total_ms, grounding=row.grounding,
            insufficient_guidance=bool(row.insufficient_guidance), fallback_reason=row.fallback_reason)

    # ---- feedback ---------------------------------------------------------------------
    def add_feedback(self, draft_id: int, user_id: int | None, rating: str, reason: str = "") -> int:
        """Store a thumbs up/down.

        Raises:
            ValueError: ``rating`` is not ``up`` or ``down``.
            KeyError: unknown ``draft_id``.
        """
        if rating not in ("up", "down"):
            raise ValueError("rating must be 'up' or 'down'")
        with self.session() as session, session.begin():
            if session.get(DraftRow, draft_id) is None:
                raise NotFoundError("draft", draft_id)
            row = FeedbackRow(draft_id=draft_id, user_id=user_id, rating=rating, reason=reason.strip(),
                              created_at=utcnow())
            session.add(row)
            session.flush()
            return row.id

    def list_feedback(self, draft_id: int | None = None) -> list[FeedbackRecord]:
        """Feedback, newest first (optionally for one draft)."""
        with self.session() as session:
            query = select(FeedbackRow).order_by(FeedbackRow.created_at.desc(), FeedbackRow.id.desc())
            if draft_id is not None:
                query = query.where(FeedbackRow.draft_id == draft_id)
            names = self._usernames(session)
            return [FeedbackRecord(id=r.id, draft_id=r.draft_id, username=names.get(r.user_id, ""),
                                   rating=r.rating, reason=r.reason, created_at=as_utc(r.created_at))
                    for r in session.scalars(query)]

    # ---- QA scores --------------------------------------------------------------------
    def add_qa_score(self, draft_id: int, reviewer_id: int, scores: dict[str, int], comment: str = "",
                     *, created_at: datetime | None = None) -> int:
        """Store (or replace) a reviewer's rubric scores for a draft.

        Raises:
            ValueError: a criterion is missing, unknown or outside 1-5.
            KeyError: unknown ``draft_id``.
        """
        unknown = set(scores) - set(RUBRIC)
        missing = set(RUBRIC) - set(scores)
        if unknown or missing:
            raise ValueError(f"scores need exactly {', '.join(RUBRIC)}")
        for name, value in scores.items():
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5:
                raise ValueError(f"{name} must be a whole number from 1 to 5")
        with self.session() as session, session.begin():
            if session.get(DraftRow, draft_id) is None:
                raise NotFoundError("draft", draft_id)
            row = session.scalar(select(QAScoreRow).where(QAScoreRow.draft_id == draft_id,
                                                          QAScoreRow.reviewer_id == reviewer_id))
            if row is None:
                row = QAScoreRow(draft_id=draft_id, reviewer_id=reviewer_id)
                session.add(row)
            for name, value in scores.items():
                setattr(row, name, value)
            row.comment = comment.strip()
            row.created_at = created_at or utcnow()
            session.flush()
            return row.id

    def list_qa_scores(self, draft_id: int | None = None) -> list[QAScoreRecord]:
        """Scores, oldest first (optionally for one draft)."""
        with self.session() as session:
            query = select(QAScoreRow).order_by(QAScoreRow.created_at, QAScoreRow.id)
            if draft_id is not None:
                query = query.where(QAScoreRow.draft_id == draft_id)
            names = self._usernames(session)
            return [QAScoreRecord(id=r.id, draft_id=r.draft_id, reviewer_id=r.reviewer_id,
                                  reviewer=names.get(r.reviewer_id, ""),
                                  scores={name: getattr(r, name) for name in RUBRIC}, comment=r.comment,
                                  created_at=as_utc(r.created_at)) for r in session.scalars(query)]

    def scored_draft_ids(self) -> set[int]:
        """Ids of drafts that have at least one QA score."""
        with self.session() as session:
            return set(session.scalars(select(QAScoreRow.draft_id).distinct()))

    # ---- knowledge gaps ---------------------------------------------------------------
    def log_knowledge_gap(self, ticket_text: str, hits: list[dict], top_score: float) -> None:
        """Record that a ticket found no sufficient guidance (called by the drafting code).

        Args:
            ticket_text: the ticket; redacted before storing.
            hits: the retrieved hits as dicts (passages are trimmed).
            top_score: the confidence of the best hit.
        """
        self.add_knowledge_gap(ticket_text, hits, top_score)

    def add_knowledge_gap(self, ticket_text: str, hits: Sequence[dict] = (), top_score: float | None = None, *,
                          source: str = "auto", reported_by: int | None = None, draft_id: int | None = None,
                          note: str = "", created_at: datetime | None = None) -> int:
        """Store a knowledge gap (automatic or reported by a specialist). Returns its id."""
        with self.session() as session, session.begin():
            row = KnowledgeGapRow(ticket_text=_redact(ticket_text), hits_json=_dumps(_trim_hits(hits)),
                                  top_score=None if top_score is None else float(top_score), source=source,
                                  reported_by=reported_by, draft_id=draft_id, note=_redact(note).strip(),
                                  status="open", created_at=created_at or utcnow())
            session.add(row)
            session.flush()
            return row.id

    def list_knowledge_gaps(self, *, status: str | None = "open") -> list[GapRecord]:
        """Knowledge gaps, newest first."""
        with self.session() as session:
            query = select(KnowledgeGapRow).order_by(KnowledgeGapRow.created_at.desc(), KnowledgeGapRow.id.desc())
            if status:
                query = query.where(KnowledgeGapRow.status == status)
            names = self._usernames(session)
            return [GapRecord(id=r.id, created_at=as_utc(r.created_at), ticket_text=r.ticket_text,
                              hits=tuple(json.loads(r.hits_json or "[]")), top_score=r.top_score, source=r.source,
                              reported_by=names.get(r.reported_by) if r.reported_by else None, draft_id=r.draft_id,
                              note=r.note, status=r.status) for r in session.scalars(query)]

    def set_gap_status(self, gap_ids: Iterable[int], status: str) -> int:
        """Set the status (``open`` / ``resolved``) of gaps; returns how many changed."""
        ids = list(gap_ids)
        with self.session() as session, session.begin():
            rows = session.scalars(select(KnowledgeGapRow).where(KnowledgeGapRow.id.in_(ids))).all()
            for row in rows:
                row.status = status
            return len(rows)

    # ---- proposed Q&A -----------------------------------------------------------------
    def propose_qa(self, question: str, answer: str, *, proposed_by: int | None, draft_id: int | None = None) -> int:
        """Queue a Q&A pair for the knowledge owner (question redacted). Returns its id."""
        with self.session() as session, session.begin():
            row = ProposedQARow(question=_redact(question).strip(), answer=answer.strip(), status="pending",
                                proposed_by=proposed_by, draft_id=draft_id, created_at=utcnow())
            session.add(row)
            session.flush()
            return row.id

    def get_proposal(self, proposal_id: int) -> ProposalRecord | None:
        """One proposal by id."""
        with self.session() as session:
            row = session.get(ProposedQARow, proposal_id)
            return self._proposal(row, self._usernames(session)) if row else None

    def list_proposals(self, *, status: str | None = "pending") -> list[ProposalRecord]:
        """Proposals, oldest first (the queue order)."""
        with self.session() as session:
            query = select(ProposedQARow).order_by(ProposedQARow.created_at, ProposedQARow.id)
            if status:
                query = query.where(ProposedQARow.status == status)
            names = self._usernames(session)
            return [self._proposal(r, names) for r in session.scalars(query)]

    def review_proposal(self, proposal_id: int, *, status: str, reviewer_id: int, note: str = "",
                        question: str | None = None, answer: str | None = None,
                        doc_id: str | None = None) -> ProposalRecord:
        """Approve or reject a pending proposal.

        Raises:
            KeyError: unknown id.
            ValueError: not pending, or a bad status.
        """
        if status not in ("approved", "rejected"):
            raise ValueError("status must be 'approved' or 'rejected'")
        with self.session() as session, session.begin():
            row = session.get(ProposedQARow, proposal_id)
            if row is None:
                raise NotFoundError("proposal", proposal_id)
            if row.status != "pending":
                raise ValueError(f"proposal {proposal_id} is already {row.status}")
            row.status, row.reviewer_id, row.reviewed_at = status, reviewer_id, utcnow()
            row.review_note = note.strip()
            if question is not None:
                row.question = _redact(question).strip()
            if answer is not None:
                row.answer = answer.strip()
            row.doc_id = doc_id
            session.flush()
            return self._proposal(row, self._usernames(session))

    @staticmethod
    def _proposal(row: ProposedQARow, names: dict[int, str]) -> ProposalRecord:
        return ProposalRecord(id=row.id, created_at=as_utc(row.created_at), question=row.question, answer=row.answer,
                              status=row.status, proposed_by=names.get(row.proposed_by) if row.proposed_by else None,
                              draft_id=row.draft_id,
                              reviewer=names.get(row.reviewer_id) if row.reviewer_id else None,
                              reviewed_at=as_utc(row.reviewed_at), review_note=row.review_note, doc_id=row.doc_id)

    # ---- audit log --------------------------------------------------------------------
    def audit(self, action: str, *, user_id: int | None = None, username: str = "", target: str = "",
              details: dict | None = None) -> int:
        """Append an entry to the audit log. Callers never pass passwords in ``details``."""
        clean = {k: v for k, v in (details or {}).items() if "password" not in k.lower()}
        with self.session() as session, session.begin():
            row = AuditRow(at=utcnow(), user_id=user_id, username=username, action=action, target=str(target),
                           details_json=_dumps(clean))
            session.add(row)
            session.flush()
            return row.id

    def list_audit(self, *, action: str | None = None, username: str | None = None,
                   since: datetime | None = None, limit: int = 500) -> list[AuditRecord]:
        """Audit entries, newest first."""
        with self.session() as session:
            query = select(AuditRow).order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(limit)
            if action:
                query = query.where(AuditRow.action == action)
            if username:
                query = query.where(AuditRow.username == username)
            if since:
                query = query.where(AuditRow.at >= since)
            return [AuditRecord(id=r.id, at=as_utc(r.at), username=r.username, action=r.action, target=r.target,
                                details=json.loads(r.details_json or "{}")) for r in session.scalars(query)]

    # ---- app state & counts -----------------------------------------------------------
    def get_state(self, key: str, default: str | None = None) -> str | None:
        """A value from the key/value app state."""
        with self.session() as session:
            row = session.get(AppStateRow, key)
            return row.value if row else default

    def set_state(self, key: str, value: str) -> None:
        """Set a key/value app-state entry."""
        with self.session() as session, session.begin():
            session.merge(AppStateRow(key=key, value=value))

    def counts(self) -> dict[str, int]:
        """Row counts of the records tables (for the admin overview)."""
        tables = {"users": UserRow, "drafts": DraftRow, "feedback": FeedbackRow, "qa_scores": QAScoreRow,
                  "knowledge_gaps": KnowledgeGapRow, "proposed_qa": ProposedQARow, "audit_log": AuditRow}
        with self.session() as session:
            out = {name: session.scalar(select(func.count()).select_from(model)) or 0
                   for name, model in tables.items()}
            out["drafts_sent"] = session.scalar(
                select(func.count()).select_from(DraftRow).where(DraftRow.status == "sent")) or 0
            out["proposals_pending"] = session.scalar(
                select(func.count()).select_from(ProposedQARow).where(ProposedQARow.status == "pending")) or 0
            out["gaps_open"] = session.scalar(
                select(func.count()).select_from(KnowledgeGapRow).where(KnowledgeGapRow.status == "open")) or 0
            return out


def since_days(days: int, *, now: datetime | None = None) -> datetime:
    """The moment ``days`` days before ``now``."""
    return (now or utcnow()) - timedelta(days=days)
