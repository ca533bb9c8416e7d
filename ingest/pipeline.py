"""The ingest job: files in, versioned and searchable chunks out.

Three stages overlap so the embedding model stays the bottleneck:

* a reader thread loads, parses, hashes and chunks files (and skips unchanged ones);
* the calling thread encodes whatever chunks are ready, in large length-sorted batches
  that span files;
* a writer thread stores each encoded batch (Chroma, then the catalog).

The BM25 index is rebuilt once at the end. A file that fails is reported with its
reason and never touches the stores; everything else carries on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import queue
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Iterable, Sequence

from ingest.chunking import Chunker, chunking_signature
from kb.language import detect_language
from ingest.loaders import SUPPORTED_EXTENSIONS, LoadedFile, LoadError, is_sidecar, load_file, read_sidecar
from kb.knowledge_base import KnowledgeBase
from kb.types import DOC_TYPES, Chunk, DocumentMeta, IngestFailure, IngestReport, Section, SetupError

#: Chunks encoded per step at most; large steps let the model sort by length across files.
MAX_ENCODE_STEP = 2048
#: Below this many chunks the encoder waits briefly for more (the reader is far faster
#: than the model, so a short wait turns a first tiny batch into a well-sorted one).
MIN_ENCODE_STEP = 256
_FILL_WAIT_S = 0.05


@dataclass(frozen=True)
class MetadataDefaults:
    """Metadata given on the command line or the upload form.

    Values here fill in what a file does not say itself (front-matter and sidecar
    metadata win); tags are merged. ``doc_id`` applies only when one file is ingested.
    """

    doc_type: str | None = None
    owner: str | None = None
    region: str | None = None
    language: str | None = None
    tags: tuple[str, ...] = ()
    doc_id: str | None = None
    title: str | None = None
    audience: str | None = None
    effective_date: str | None = None
    review_by: str | None = None


@dataclass(frozen=True)
class Source:
    """One document to ingest: a file on disk or an in-memory record (e.g. an eval corpus entry)."""

    label: str
    doc_id: str
    path: Path | None = None
    loaded: LoadedFile | None = None
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PreparedDocument:
    """A parsed, chunked document version waiting to be embedded."""

    label: str
    meta: DocumentMeta
    chunks: tuple[Chunk, ...]
    supersedes: bool
    #: The active version cut again under new chunking rules (same version, same text).
    rechunk: bool = False


@dataclass(frozen=True)
class _Relabel:
    """An unchanged document whose chunks the current rules cut exactly as stored."""

    meta: DocumentMeta


def _same_cut(new: Sequence[Chunk], stored: Sequence[Chunk]) -> bool:
    def cut(chunks: Sequence[Chunk]) -> list[tuple]:
        return [(c.chunk_id, c.text, c.section, c.page, c.audience) for c in chunks]

    return cut(new) == cut(stored)


def discover(paths: Sequence[Path | str]) -> tuple[list[tuple[Path, Path]], list[IngestFailure]]:
    """Expand files and folders into ``(file, ingest root)`` pairs, sorted for determinism."""
    found: list[tuple[Path, Path]] = []
    failures: list[IngestFailure] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                rel = file.relative_to(path)
                if any(part.startswith(".") for part in rel.parts) or is_sidecar(file):
                    continue
                found.append((file, path))
        elif path.is_file():
            found.append((path, path.parent))
        else:
            failures.append(IngestFailure(str(path), "no such file or folder"))
    return found, failures


def _text(value) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, (date, datetime)):
        return value.isoformat()[:10]
    return str(value).strip()


def _tags(value) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = re.split(r"[,;]", value)
    return tuple(str(v).strip() for v in value if str(v).strip())


_H1 = re.compile(r"^#\s+(.+)$", re.MULTILINE)


def _title_from(loaded: LoadedFile, fallback: str) -> str:
    if loaded.is_markdown:
        match = _H1.search(loaded.raw_text)
        if match:
            return match.group(1).strip()
    return fallback


class Ingestor:
    """Runs ingest jobs against one :class:`KnowledgeBase`.

    Args:
        kb: the knowledge base to write to.
        progress: show a progress bar on stderr.
    """

    def __init__(self, kb: KnowledgeBase, *, progress: bool = False) -> None:
        self.kb = kb
        self.settings = kb.settings
        self.progress = progress
        self._chunker: Chunker | None = None
        self._stop = threading.Event()
        self._setup_error: SetupError | None = None
        self.chunking = chunking_signature(self.settings.chunk_tokens, self.settings.chunk_overlap_tokens)

    @property
    def chunker(self) -> Chunker:
        """Chunker sized for the embedder (loads the model's tokenizer)."""
        if self._chunker is None:
            embedder = self.kb.embedder
            counter = embedder.token_counter() if hasattr(embedder, "token_counter") else embedder.count_tokens
            self._chunker = Chunker(counter, max_tokens=getattr(embedder, "max_tokens", 256),
                                    chunk_tokens=self.settings.chunk_tokens,
                                    overlap_tokens=self.settings.chunk_overlap_tokens)
        return self._chunker

    # ---- entry points -------------------------------------------------------------
    def ingest_paths(self, paths: Sequence[Path | str], defaults: MetadataDefaults = MetadataDefaults()) -> IngestReport:
        """Ingest files and folders; see :class:`MetadataDefaults` for metadata precedence."""
        files, failures = discover(paths)
        if defaults.doc_id and len(files) > 1:
            report = IngestReport(failed=[IngestFailure(", ".join(map(str, paths)),
                                                        "--doc-id needs exactly one file")])
            return report
        sources = []
        for file, root in files:
            doc_id = defaults.doc_id or file.relative_to(root).as_posix()
            sources.append(Source(label=str(file), doc_id=doc_id, path=file))
        return self.ingest_sources(sources, defaults, initial_failures=failures)

    def ingest_sources(self, sources: Sequence[Source], defaults: MetadataDefaults = MetadataDefaults(),
                       *, initial_failures: Sequence[IngestFailure] = ()) -> IngestReport:
        """Ingest prepared sources (files or in-memory records)."""
        started = time.perf_counter()
        self._stop.clear()
        self._setup_error = None
        report = IngestReport(failed=list(initial_failures))
        states = self.kb.catalog.document_states()
        active_metas = self.kb.catalog.active_metas()
        work: queue.Queue = queue.Queue(maxsize=4 * MAX_ENCODE_STEP)
        done = object()
        known = (states, active_metas)
        reader = threading.Thread(target=self._read_all, args=(sources, defaults, known, work, done),
                                  name="ingest-reader", daemon=True)
        writes: queue.Queue = queue.Queue(maxsize=2)
        writer_errors: list[BaseException] = []
        writer = threading.Thread(target=self._write_all, args=(writes, report, writer_errors),
                                  name="ingest-writer", daemon=True)
        bar = self._progress_bar(len(sources))
        reader.start()
        writer.start()
        try:
            self._encode_loop(work, done, writes, report, bar)
        finally:
            self._stop.set()
            self._drain(work)
            writes.put(None)
            writer.join()
            reader.join()
            if bar is not None:
                bar.close()
        if self._setup_error is not None:
            # Not one file's fault (say, another embedding model than the stored vectors'):
            # every file would fail the same way, so the run stops with the one message.
            raise self._setup_error
        if report.ingested or report.superseded or report.rechunked:
            self.kb.rebuild_lexical()
        else:
            self.kb.ensure_lexical()
        report.seconds = time.perf_counter() - started
        return report

    # ---- stages ------------------------------------------------------------------
    def _progress_bar(self, total: int):
        if not self.progress:
            return None
        from tqdm import tqdm

        return tqdm(total=total, unit="doc", desc="ingest", file=sys.stderr, dynamic_ncols=True)

    def _read_all(self, sources, defaults, known, work: queue.Queue, done) -> None:
        seen: dict[str, str] = {}
        try:
            for source in sources:
                if self._stop.is_set():
                    return
                try:
                    work.put(self._prepare(source, defaults, known, seen))
                except SetupError as exc:
                    self._setup_error = exc
                    return
                except LoadError as exc:
                    work.put(IngestFailure(source.label, str(exc)))
                except Exception as exc:  # noqa: BLE001 - one bad file must not stop the job
                    work.put(IngestFailure(source.label, f"{exc.__class__.__name__}: {exc}"))
        finally:
            work.put(done)

    @staticmethod
    def _drain(work: queue.Queue) -> None:
        # Unblocks a reader waiting on a full queue when encoding stopped early.
        try:
            while True:
                work.get_nowait()
        except queue.Empty:
            pass

    def _prepare(self, source: Source, defaults: MetadataDefaults, known,
                 seen: dict[str, str]) -> PreparedDocument | str:
        if source.loaded is not None:
            loaded, file_meta = source.loaded, dict(source.metadata)
            digest_source = loaded.raw_text or "\n".join(s.text for s in loaded.sections)
            sha = hashlib.sha256((digest_source + repr(sorted(file_meta.items()))).encode()).hexdigest()
        else:
            assert source.path is not None
            path = source.path
            if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
                raise LoadError(f"unsupported file type '{path.suffix or path.name}' "
                                f"(supported: {', '.join(sorted(SUPPORTED_EXTENSIONS))})")
            size = path.stat().st_size
            limit = self.settings.max_file_mb * 1024 * 1024
            if size > limit:
                raise LoadError(f"file is {size / 1048576:.1f} MB, over the {self.settings.max_file_mb:g} MB limit "
                                "(REPLYDESK_MAX_FILE_MB)")
            data = path.read_bytes()
            sidecar = read_sidecar(path)
            sha = hashlib.sha256(data + repr(sorted(sidecar.items())).encode()).hexdigest()
            loaded = load_file(path, data)
            file_meta = {**loaded.metadata, **sidecar}
        doc_id = _text(file_meta.get("doc_id")) or source.doc_id
        if doc_id in seen:
            raise LoadError(f"doc_id '{doc_id}' is also used by {seen[doc_id]} in this run; "
                            "ingest one version at a time")
        seen[doc_id] = source.label
        states, active_metas = known
        active, active_sha, latest = states.get(doc_id, (None, None, 0))
        if active is not None and active_sha == sha:
            current = active_metas.get(doc_id)
            if current is None or current.chunking == self.chunking:
                return "unchanged"
            # Same text, cut under older rules or sizes: cut it again, keeping its version.
            meta = dataclasses.replace(current, chunking=self.chunking)
            chunks = tuple(self.chunker.chunk(loaded, meta))
            if not chunks:
                raise LoadError("no text left after chunking")
            if _same_cut(chunks, self.kb.catalog.version_chunks(doc_id, active)):
                # The new rules cut this one as before: record them, embed nothing.
                return _Relabel(meta)
            return PreparedDocument(label=source.label, meta=meta, chunks=chunks, supersedes=False, rechunk=True)
        meta = self._resolve_meta(doc_id, source, loaded, file_meta, defaults, sha, active, latest)
        chunks = tuple(self.chunker.chunk(loaded, meta))
        if not chunks:
            raise LoadError("no text left after chunking")
        return PreparedDocument(label=source.label, meta=meta, chunks=chunks, supersedes=active is not None)

    def _resolve_meta(self, doc_id, source, loaded, file_meta, defaults, sha, active, latest) -> DocumentMeta:
        doc_type = (_text(file_meta.get("doc_type")) or defaults.doc_type or ("qa" if loaded.is_qa else "sop")).lower()
        if doc_type not in DOC_TYPES:
            raise LoadError(f"doc_type '{doc_type}' is not one of {', '.join(DOC_TYPES)}")
        declared = file_meta.get("version")
        if declared is not None:
            try:
                declared = int(str(declared).lstrip("vV").split(".")[0])
            except ValueError:
                raise LoadError(f"version '{file_meta.get('version')}' is not a whole number")
            if active is not None and declared < active:
                raise LoadError(f"declares version {declared}, older than the active version {active} of '{doc_id}'")
        version = max(int(declared or 0), latest + 1)
        fallback_title = Path(source.label).stem.replace("_", " ").replace("-", " ").strip().capitalize()
        title = _text(file_meta.get("title")) or defaults.title or _title_from(loaded, fallback_title)
        language = _text(file_meta.get("language")) or defaults.language
        if not language:
            language = detect_language(loaded.raw_text or " ".join(s.text for s in loaded.sections[:20]))
        audience = (_text(file_meta.get("audience")) or defaults.audience or "external").lower()
        if audience not in ("internal", "external"):
            raise LoadError(f"audience '{audience}' must be internal or external")
        return DocumentMeta(
            doc_id=doc_id, title=title, doc_type=doc_type, version=version,
            effective_date=_text(file_meta.get("effective_date")) or defaults.effective_date,
            owner=_text(file_meta.get("owner")) or defaults.owner,
            region=_text(file_meta.get("region")) or defaults.region,
            language=language,
            tags=tuple(dict.fromkeys(_tags(file_meta.get("tags")) + tuple(defaults.tags))),
            source_file=str(source.path) if source.path else source.label,
            sha256=sha, audience=audience,
            review_by=_text(file_meta.get("review_by")) or defaults.review_by,
            chunking=self.chunking,
        )

    def _encode_loop(self, work: queue.Queue, done, writes: queue.Queue, report: IngestReport, bar) -> None:
        finished = False
        while not finished:
            batch: list[PreparedDocument] = []
            n_chunks = 0
            item = work.get()
            while True:
                if item is done:
                    finished = True
                    break
                if bar is not None:
                    bar.update(1)
                if isinstance(item, IngestFailure):
                    report.failed.append(item)
                elif item == "unchanged":
                    report.skipped_unchanged += 1
                elif isinstance(item, _Relabel):
                    self.kb.catalog.update_version_meta(item.meta)
                    report.skipped_unchanged += 1
                else:
                    batch.append(item)
                    n_chunks += len(item.chunks)
                    if n_chunks >= MAX_ENCODE_STEP:
                        break
                try:
                    if not batch:
                        item = work.get()
                    elif n_chunks < MIN_ENCODE_STEP:
                        item = work.get(timeout=_FILL_WAIT_S)
                    else:
                        item = work.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._encode_and_queue(batch, writes, report)

    def _encode_and_queue(self, batch: list[PreparedDocument], writes: queue.Queue, report: IngestReport) -> None:
        texts = [c.embedding_text() for doc in batch for c in doc.chunks]
        unique = list(dict.fromkeys(texts))
        started = time.perf_counter()
        vectors = self.kb.embedder.encode(unique)
        report.encode_seconds += time.perf_counter() - started
        index = {t: i for i, t in enumerate(unique)}
        rows = [index[t] for t in texts]
        writes.put((batch, vectors[rows]))

    def _write_all(self, writes: queue.Queue, report: IngestReport, errors: list[BaseException]) -> None:
        while True:
            item = writes.get()
            if item is None:
                return
            batch, vectors = item
            if errors:
                report.failed.extend(IngestFailure(doc.label, "not stored: an earlier write failed") for doc in batch)
                continue
            entries, offset = [], 0
            for doc in batch:
                n = len(doc.chunks)
                entries.append((doc.meta, doc.chunks, vectors[offset:offset + n]))
                offset += n
            try:
                superseded = self.kb.commit(entries, rebuild_lexical=False)
            except Exception as exc:  # noqa: BLE001 - reported per file, the job stops writing
                for doc in batch:
                    report.failed.append(IngestFailure(doc.label, f"could not be stored: {exc}"))
                errors.append(exc)
                continue
            rechunked = sum(doc.rechunk for doc in batch)
            report.rechunked += rechunked
            report.ingested += len(batch) - rechunked
            report.superseded += len(superseded)
            report.chunks += sum(len(doc.chunks) for doc in batch)
            report.doc_ids.extend(doc.meta.doc_id for doc in batch)


def ingest_records(kb: KnowledgeBase, records: Iterable[tuple[str, str, str]], *, doc_type: str = "qa",
                   language: str | None = "en", progress: bool = False) -> IngestReport:
    """Ingest in-memory ``(doc_id, title, text)`` records, each one document (used by evaluation)."""
    sources = []
    for doc_id, title, text in records:
        loaded = LoadedFile(sections=[Section(text=text)], raw_text=text)
        sources.append(Source(label=doc_id, doc_id=doc_id, loaded=loaded,
                              metadata={"title": title, "doc_type": doc_type, "language": language}))
    return Ingestor(kb, progress=progress).ingest_sources(sources)
