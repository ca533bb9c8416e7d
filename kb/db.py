"""SQLAlchemy engine and declarative base shared by every records table.

SQLite (WAL, foreign keys on) under the data home is the default; any SQLAlchemy URL
works, PostgreSQL being the scale-out target.
"""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, sessionmaker


class Base(DeclarativeBase):
    """Declarative base of all replydesk tables."""


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the app read while an ingest writes; busy_timeout rides out short write locks.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


_ENGINES: dict[str, Engine] = {}
_LOCK = threading.Lock()


def get_engine(url: str) -> Engine:
    """One engine per URL per process, with tables created on first use."""
    with _LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            if url.startswith("sqlite:///"):
                Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, future=True)
            if engine.dialect.name == "sqlite":
                event.listen(engine, "connect", _sqlite_pragmas)
            _import_models()
            Base.metadata.create_all(engine)
            _ENGINES[url] = engine
        return engine


def session_factory(url: str) -> sessionmaker:
    """A ``sessionmaker`` bound to the engine for ``url``."""
    return sessionmaker(get_engine(url), expire_on_commit=False, future=True)


def dispose_engines() -> None:
    """Close all pooled connections (tests use fresh homes)."""
    with _LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


def _import_models() -> None:
    # Table classes register themselves on Base when their module is imported.
    import importlib

    for module in ("kb.catalog", "kb.records"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
