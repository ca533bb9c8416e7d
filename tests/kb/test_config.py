from pathlib import Path

from kb.config import Settings


def test_env_prefix_and_dotenv(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("REPLYDESK_HOME=/srv/rd\nREPLYDESK_LLM_PROVIDER=ollama\n")
    monkeypatch.setenv("REPLYDESK_EMBEDDING_BATCH_SIZE", "16")
    s = Settings()
    assert s.home == Path("/srv/rd") and s.llm_provider == "ollama" and s.embedding_batch_size == 16


def test_home_derived_paths_and_override(tmp_path):
    s = Settings(_env_file=None, home=tmp_path).with_home(tmp_path / "other")
    assert s.chroma_dir == tmp_path / "other" / "chroma"
    assert s.records_url == f"sqlite:///{(tmp_path / 'other' / 'replydesk.db').resolve()}"
    assert Settings(_env_file=None, database_url="postgresql://x/y").records_url == "postgresql://x/y"


def test_embedding_backend_and_model_cache_from_env(tmp_path, monkeypatch):
    import pytest
    from pydantic import ValidationError

    from kb.embedder import SentenceTransformerEmbedder

    monkeypatch.setenv("REPLYDESK_EMBEDDING_BACKEND", "torch")
    monkeypatch.setenv("REPLYDESK_MODEL_CACHE_DIR", str(tmp_path / "cache"))
    s = Settings(_env_file=None)
    embedder = SentenceTransformerEmbedder.from_settings(s)  # nothing loads until first use
    assert (embedder.backend, embedder.cache_dir) == ("torch", tmp_path / "cache")
    assert Settings(_env_file=None, embedding_backend="onnx").embedding_backend == "onnx"
    monkeypatch.setenv("REPLYDESK_EMBEDDING_BACKEND", "gpu-magic")
    with pytest.raises(ValidationError, match="embedding_backend"):
        Settings(_env_file=None)
