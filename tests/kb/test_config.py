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
