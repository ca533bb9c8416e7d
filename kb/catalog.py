"""The document catalog: every version of every document and the text of its chunks.

The catalog is the source of truth for *which* version of a document is searchable.
Chroma and the BM25 index hold vectors and terms for retrieval, but a hit only counts
when its ``(doc_id, version)`` is the active one here. Switching versions is therefore
a single SQL transaction: there is no moment where both versions, or neither, count.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Sequence

from sqlalchemy import ForeignKey, Integer, String, Text, bindparam, select, update, func
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from kb.db import Base, session_factory
from kb.types import Chunk, DocumentMeta, NotFoundError


def _now() -> datetime:
    return datetime.now(timezone.utc)


class DocumentRow(Base):
    """One logical document; ``active_version`` is None when retired."""

    __tablename__ = "kb_documents"

    doc_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    active_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latest_version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(500))
    doc_type: Mapped[str] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column(default=_now)


class VersionRow(Base):
    """One version of a document, kept forever as history."""

    __tablename__ = "kb_versions"

    doc_id: Mapped[str] = mapped_column(ForeignKey("kb_documents.doc_id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    meta_json: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(20))  # active | superseded | retired
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    ingested_at: Mapped[datetime] = mapped_column(default=_now)
    status_changed_at: Mapped[datetime] = mapped_column(default=_now)

    @property
    def meta(self) -> DocumentMeta:
        """The version's metadata as a :class:`DocumentMeta`."""
        data = json.loads(self.meta_json)
        data["tags"] = tuple(data.get("tags") or ())
        return DocumentMeta(**data)


class ChunkRow(Base):
    """Text and position of one chunk of one version (history included)."""

    __tablename__ = "kb_chunks"

    chunk_id: Mapped[str] = mapped_column(String(400), primary_key=True)
    doc_id: Mapped[str] = mapped_column(String(300), index=True)
    version: Mapped[int] = mapped_column(Integer)
    ordinal: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    page: Mapped[int | None] = mapped_column(Integer, nullable=True)
    section: Mapped[str | None] = mapped_column(Text, nullable=True)
    audience: Mapped[str] = mapped_column(String(20), default="external")


class StateRow(Base):
    """Key/value state; ``generation`` increases on every change of the searchable set."""

    __tablename__ = "kb_state"

    key: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class IndexInfoRow(Base):
    """Facts about how the searchable index was built (the embedding model's fingerprint)."""

    __tablename__ = "kb_index_info"

    key: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


# Built once: constructing a statement per call costs more than running it (~0.2 ms of ~0.27 ms
# for a five-chunk lookup), and both run on every search.
_GENERATION = select(StateRow.value).where(StateRow.key == "generation")
_CHUNKS_BY_ID = (
    select(ChunkRow.__table__, VersionRow.meta_json)
    .join(VersionRow, (VersionRow.doc_id == ChunkRow.doc_id) & (VersionRow.version == ChunkRow.version))
    .where(ChunkRow.chunk_id.in_(bindparam("chunk_ids", expanding=True)))
)


def chunk_from_rows(chunk: ChunkRow, meta: DocumentMeta) -> Chunk:
    """Rebuild a :class:`Chunk` from its stored row and its version's metadata."""
    return Chunk(chunk_id=chunk.chunk_id, doc_id=chunk.doc_id, version=chunk.version, ordinal=chunk.ordinal,
                 text=chunk.text, title=meta.title, doc_type=meta.doc_type, page=chunk.page,
                 section=chunk.section, audience=chunk.audience, region=meta.region, language=meta.language,
                 tags=meta.tags)


class Catalog:
    """Access to documents, versions and chunk history in the records database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._sessions: sessionmaker = session_factory(url)
        self._engine = self._sessions.kw["bind"]
        # A version's metadata never changes once written (a re-chunk changes only its `chunking`,
        # which chunks do not carry), so parsed copies can be kept.
        self._meta_cache: dict[tuple[str, int], DocumentMeta] = {}

    def session(self) -> Session:
        """A new ORM session."""
        return self._sessions()

    # ---- reads ------------------------------------------------------------------
    def generation(self) -> int:
        """Counter bumped whenever the searchable set changes."""
        # Core query, not ORM: this runs on every search.
        with self._engine.connect() as connection:
            value = connection.execute(_GENERATION).scalar()
            return value or 0

    def active_versions(self) -> dict[str, int]:
        """``doc_id -> active version`` for every searchable document."""
        with self.session() as session:
            rows = session.execute(
                select(DocumentRow.doc_id, DocumentRow.active_version).where(DocumentRow.active_version.is_not(None))
            )
            return {doc_id: version for doc_id, version in rows}

    def active_titles(self) -> list[str]:
        """Distinct titles of the searchable documents."""
        with self.session() as session:
            return list(session.execute(
                select(DocumentRow.title).where(DocumentRow.active_version.is_not(None)).distinct()
            ).scalars())

    def document_states(self) -> dict[str, tuple[int | None, str | None, int]]:
        """``doc_id -> (active version, sha256 of the active version, latest version)`` for all documents."""
        with self.session() as session:
            rows = session.execute(
                select(DocumentRow.doc_id, DocumentRow.active_version, DocumentRow.latest_version, VersionRow.sha256)
                .join(VersionRow, (VersionRow.doc_id == DocumentRow.doc_id)
                      & (VersionRow.version == DocumentRow.active_version), isouter=True)
            )
            return {doc_id: (active, sha, latest) for doc_id, active, latest, sha in rows}

    def active_metas(self) -> dict[str, DocumentMeta]:
        """``doc_id -> metadata`` of every active version."""
        with self.session() as session:
            rows = session.execute(
                select(VersionRow.doc_id, VersionRow.meta_json)
                .join(DocumentRow, (DocumentRow.doc_id == VersionRow.doc_id)
                      & (DocumentRow.active_version == VersionRow.version))
            )
            return {doc_id: VersionRow(meta_json=meta_json).meta for doc_id, meta_json in rows}

    def sample_active_chunks(self, n: int) -> list[Chunk]:
        """Up to ``n`` chunks of active versions, the same ones on every call."""
        with self.session() as session:
            rows = session.execute(
                select(ChunkRow, VersionRow.meta_json)
                .join(DocumentRow, (DocumentRow.doc_id == ChunkRow.doc_id)
                      & (DocumentRow.active_version == ChunkRow.version))
                .join(VersionRow, (VersionRow.doc_id == ChunkRow.doc_id) & (VersionRow.version == ChunkRow.version))
                .order_by(ChunkRow.chunk_id).limit(n)
            ).all()
            return [chunk_from_rows(chunk, VersionRow(meta_json=meta_json).meta) for chunk, meta_json in rows]

    def index_info(self, key: str) -> str | None:
        """A stored fact about the index (see :class:`IndexInfoRow`), or None."""
        with self._engine.connect() as connection:
            return connection.execute(select(IndexInfoRow.value).where(IndexInfoRow.key == key)).scalar()

    def set_index_info(self, key: str, value: str, *, bump: bool = False) -> None:
        """Store a fact about the index; ``bump`` also starts a new generation (the index changed)."""
        with self.session() as session, session.begin():
            session.merge(IndexInfoRow(key=key, value=value))
            if bump:
                self._bump(session)

    def list_documents(self, *, include_retired: bool = False) -> list[dict]:
        """Documents with their active (or latest) version's metadata."""
        with self.session() as session:
            docs = session.execute(select(DocumentRow).order_by(DocumentRow.doc_id)).scalars().all()
            out = []
            for doc in docs:
                if doc.active_version is None and not include_retired:
                    continue
                version = session.get(VersionRow, (doc.doc_id, doc.active_version or doc.latest_version))
                meta = version.meta if version else None
                out.append({
                    "doc_id": doc.doc_id, "title": doc.title, "doc_type": doc.doc_type,
                    "active_version": doc.active_version, "latest_version": doc.latest_version,
                    "status": "active" if doc.active_version is not None else "retired",
                    "chunks": version.chunk_count if version else 0,
                    "effective_date": meta.effective_date if meta else None,
                    "review_by": meta.review_by if meta else None,
                    "owner": meta.owner if meta else None, "region": meta.region if meta else None,
                    "language": meta.language if meta else None, "tags": list(meta.tags) if meta else [],
                    "audience": meta.audience if meta else "external",
                    "source_file": meta.source_file if meta else None,
                    "updated_at": doc.updated_at.isoformat() if doc.updated_at else None,
                })
            return out

    def history(self, doc_id: str) -> list[dict]:
        """Every version of ``doc_id``, oldest first (empty when unknown)."""
        with self.session() as session:
            rows = session.execute(
                select(VersionRow).where(VersionRow.doc_id == doc_id).order_by(VersionRow.version)
            ).scalars().all()
            return [{**asdict(row.meta), "tags": list(row.meta.tags), "status": row.status,
                     "chunks": row.chunk_count, "ingested_at": row.ingested_at.isoformat(),
                     "status_changed_at": row.status_changed_at.isoformat()} for row in rows]

    def version_text(self, doc_id: str, version: int) -> str:
        """The full text of one version, chunks joined in order (for display and diffs)."""
        with self.session() as session:
            texts = session.execute(
                select(ChunkRow.text).where(ChunkRow.doc_id == doc_id, ChunkRow.version == version)
                .order_by(ChunkRow.ordinal)
            ).scalars().all()
            return "\n\n".join(texts)

    def version_chunks(self, doc_id: str, version: int) -> list[Chunk]:
        """Chunks of one version (history included)."""
        with self.session() as session:
            row = session.get(VersionRow, (doc_id, version))
            if row is None:
                return []
            meta = row.meta
            chunks = session.execute(
                select(ChunkRow).where(ChunkRow.doc_id == doc_id, ChunkRow.version == version)
                .order_by(ChunkRow.ordinal)
            ).scalars().all()
            return [chunk_from_rows(c, meta) for c in chunks]

    def active_chunks(self) -> list[Chunk]:
        """All chunks of all active versions (to rebuild the BM25 index)."""
        with self.session() as session:
            metas: dict[tuple[str, int], DocumentMeta] = {}
            for row in session.execute(select(VersionRow).where(VersionRow.status == "active")).scalars():
                metas[(row.doc_id, row.version)] = row.meta
            rows = session.execute(
                select(ChunkRow).join(
                    DocumentRow,
                    (DocumentRow.doc_id == ChunkRow.doc_id) & (DocumentRow.active_version == ChunkRow.version),
                ).order_by(ChunkRow.doc_id, ChunkRow.ordinal)
            ).scalars()
            return [chunk_from_rows(c, metas[(c.doc_id, c.version)]) for c in rows]

    def chunks_by_id(self, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        """Look chunks up by id (any version); one query per 500 ids, metadata cached."""
        out: dict[str, Chunk] = {}
        with self._engine.connect() as connection:
            for start in range(0, len(chunk_ids), 500):
                part = list(chunk_ids[start:start + 500])
                rows = connection.execute(_CHUNKS_BY_ID, {"chunk_ids": part})
                for row in rows:
                    key = (row.doc_id, row.version)
                    meta = self._meta_cache.get(key)
                    if meta is None:
                        meta = self._meta_cache[key] = VersionRow(meta_json=row.meta_json).meta
                    out[row.chunk_id] = chunk_from_rows(row, meta)
        return out

    def counts(self) -> dict[str, int]:
        """Counts of active documents, versions and active chunks."""
        with self.session() as session:
            docs = session.scalar(select(func.count()).select_from(DocumentRow)
                                  .where(DocumentRow.active_version.is_not(None))) or 0
            versions = session.scalar(select(func.count()).select_from(VersionRow)) or 0
            chunks = session.scalar(select(func.sum(VersionRow.chunk_count)).where(VersionRow.status == "active")) or 0
            return {"documents": docs, "versions": versions, "chunks": int(chunks)}

    # ---- writes -----------------------------------------------------------------
    def activate_versions(self, entries: Sequence[tuple[DocumentMeta, Sequence[Chunk]]]) -> list[tuple[str, int]]:
        """Record new versions and make them the searchable ones, all in one transaction.

        Returns:
            ``(doc_id, old_version)`` for each previously active version that was superseded.
        """
        superseded: list[tuple[str, int]] = []
        now = _now()
        with self.session() as session, session.begin():
            for meta, chunks in entries:
                doc = session.get(DocumentRow, meta.doc_id)
                if doc is None:
                    doc = DocumentRow(doc_id=meta.doc_id, active_version=None, latest_version=0,
                                      title=meta.title, doc_type=meta.doc_type)
                    session.add(doc)
                ingested_at = now
                if doc.active_version == meta.version:
                    # The active version cut again (new chunking rules): same version, new chunks.
                    ingested_at = session.get(VersionRow, (meta.doc_id, meta.version)).ingested_at
                elif doc.active_version is not None:
                    session.execute(update(VersionRow).where(
                        VersionRow.doc_id == meta.doc_id, VersionRow.version == doc.active_version
                    ).values(status="superseded", status_changed_at=now))
                    superseded.append((meta.doc_id, doc.active_version))
                meta_dict = asdict(meta)
                meta_dict["tags"] = list(meta.tags)
                session.merge(VersionRow(doc_id=meta.doc_id, version=meta.version, meta_json=json.dumps(meta_dict),
                                         sha256=meta.sha256, status="active", chunk_count=len(chunks),
                                         ingested_at=ingested_at, status_changed_at=now))
                session.execute(ChunkRow.__table__.delete().where(
                    ChunkRow.doc_id == meta.doc_id, ChunkRow.version == meta.version))
                session.add_all(ChunkRow(chunk_id=c.chunk_id, doc_id=c.doc_id, version=c.version,
                                         ordinal=c.ordinal, text=c.text, page=c.page, section=c.section,
                                         audience=c.audience) for c in chunks)
                doc.active_version = meta.version
                doc.latest_version = max(doc.latest_version, meta.version)
                doc.title, doc.doc_type, doc.updated_at = meta.title, meta.doc_type, now
            self._bump(session)
        return superseded

    def update_version_meta(self, meta: DocumentMeta) -> None:
        """Rewrite the stored metadata of version ``meta.version`` of ``meta.doc_id`` (its chunks stay)."""
        meta_dict = asdict(meta)
        meta_dict["tags"] = list(meta.tags)
        with self.session() as session, session.begin():
            session.execute(update(VersionRow).where(VersionRow.doc_id == meta.doc_id,
                                                     VersionRow.version == meta.version)
                            .values(meta_json=json.dumps(meta_dict)))
        self._meta_cache.pop((meta.doc_id, meta.version), None)

    def set_retired(self, doc_id: str, retired: bool) -> int | None:
        """Retire (or restore the latest version of) a document.

        Returns:
            The version that was retired or restored, or None when there was nothing to do.

        Raises:
            KeyError: unknown ``doc_id``.
        """
        now = _now()
        with self.session() as session, session.begin():
            doc = session.get(DocumentRow, doc_id)
            if doc is None:
                raise NotFoundError("document", doc_id)
            if retired:
                if doc.active_version is None:
                    return None
                version = doc.active_version
                session.execute(update(VersionRow).where(VersionRow.doc_id == doc_id, VersionRow.version == version)
                                .values(status="retired", status_changed_at=now))
                doc.active_version = None
            else:
                if doc.active_version is not None:
                    return None
                version = doc.latest_version
                session.execute(update(VersionRow).where(VersionRow.doc_id == doc_id, VersionRow.version == version)
                                .values(status="active", status_changed_at=now))
                doc.active_version = version
            doc.updated_at = now
            self._bump(session)
            return version

    @staticmethod
    def _bump(session: Session) -> None:
        state = session.get(StateRow, "generation")
        if state is None:
            session.add(StateRow(key="generation", value=1))
        else:
            state.value += 1
