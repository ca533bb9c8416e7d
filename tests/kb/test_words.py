"""Words of every script for BM25, title linking and the drafting checks."""

from __future__ import annotations

import random
import re
import string
import unicodedata

import pytest

from kb.lexical import tokenize
from kb.linking import title_tokens
from kb.words import normalise, words

_ASCII_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def test_ascii_text_splits_exactly_as_the_ascii_tokenizer_did():
    """English knowledge bases keep their tokens (and so their rankings) through the change:
    the general pattern gives, on ASCII text, what the ASCII shortcut and the old tokenizer give."""
    from kb.words import _any_script_words

    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits + " '_-.,!?/\\\"@#\t\n"
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert _any_script_words(text) == words(text) == _ASCII_WORD.findall(text.lower()), text


@pytest.mark.parametrize(("text", "expected"), [
    ("Café crème brûlée", ["cafe", "creme", "brulee"]),               # Latin accents go
    ("Cafe\u0301", ["cafe"]),                                          # also when written as a combining mark
    ("Straße Ελληνικά", ["straße", "ελληνικα"]),                       # letters ASCII lacks are kept
    ("Возврат средств", ["возврат", "средств"]),
    ("नमस्ते दुनिया", ["नमस्ते", "दुनिया"]),                                  # vowel signs stay in their words
    ("استرداد الأموال", ["استرداد", "الأموال"]),
    ("환불 정책", ["환불", "정책"]),                                      # Hangul keeps its syllables
    ("退款政策", ["退款", "款政", "政策"]),                               # unspaced scripts: character pairs
    ("iPhone用の返金", ["iphone", "用の", "の返", "返金"]),
    ("payouts—the hold", ["payouts", "the", "hold"]),                  # a dash separates (it used to join)
    ("don’t", ["don't"]),                                              # curly and straight apostrophes agree
])
def test_words_of_every_script(text, expected):
    assert words(text) == expected


def test_normalise_keeps_scripts_and_lowercases():
    assert normalise("Ünïcode ΆΛΦΑ Привет") == "unicode αλφα привет"
    assert unicodedata.is_normalized("NFC", normalise("한국어 नमस्ते"))


def test_title_tokens_and_bm25_tokens_read_other_scripts():
    assert title_tokens("Cupid’s Span & Café Москва") == ["cupids", "span", "and", "cafe", "москва"]
    assert tokenize("Возврат средств за монеты") == ["возврат", "средств", "за", "монеты"]
    assert tokenize("退款政策") == ["退款", "款政", "政策"]


def test_bm25_finds_documents_written_in_other_scripts(keyword_kb):
    from ingest.pipeline import ingest_records
    from kb.retrieval import NAMED_CONFIGS, Retriever

    ingest_records(keyword_kb, [
        ("ru-refunds", "Возврат монет", "Неиспользованные монеты можно вернуть в течение 14 дней после покупки."),
        ("ru-payouts", "Выплаты", "Выплаты на новый способ оплаты удерживаются 14 дней."),
        ("ja-refunds", "コインの返金", "未使用のコインは購入後14日以内に返金できます。"),
        ("ja-payouts", "支払い保留", "新しい支払い方法への支払いは14日間保留されます。"),
        ("hi-refunds", "सिक्कों की वापसी", "बिना इस्तेमाल किए सिक्के खरीद के 14 दिनों के भीतर वापस किए जा सकते हैं।"),
        ("en-refunds", "Coin refunds", "Unused coins can be refunded within 14 days of purchase."),
    ])
    bm25 = Retriever(keyword_kb).with_config(NAMED_CONFIGS["bm25"])
    for query, expected in (("можно ли вернуть монеты", "ru-refunds"), ("コインを返金してほしい", "ja-refunds"),
                            ("支払い方法を変えたら保留", "ja-payouts"), ("सिक्के वापस", "hi-refunds")):
        hits = bm25.search(query, k=1, dedupe_documents=True)
        assert hits and hits[0].doc_id == expected, (query, hits)


def test_an_index_built_by_the_ascii_tokenizer_is_rebuilt_on_open(keyword_kb):
    import json

    from ingest.pipeline import ingest_records
    from kb.lexical import TOKENIZER_VERSION
    from kb.retrieval import NAMED_CONFIGS, Retriever

    ingest_records(keyword_kb, [("ru", "Возврат", "Неиспользованные монеты можно вернуть."),
                                ("en", "Refunds", "Unused coins can be refunded.")])
    meta_file = keyword_kb.settings.bm25_dir / "meta.json"
    meta = json.loads(meta_file.read_text())
    assert meta["tokenizer"] == TOKENIZER_VERSION
    del meta["tokenizer"]  # as an older replydesk wrote it
    meta_file.write_text(json.dumps(meta))
    keyword_kb.ensure_lexical()
    assert json.loads(meta_file.read_text())["tokenizer"] == TOKENIZER_VERSION
    hits = Retriever(keyword_kb).with_config(NAMED_CONFIGS["bm25"]).search("монеты", k=1)
    assert hits[0].doc_id == "ru"
