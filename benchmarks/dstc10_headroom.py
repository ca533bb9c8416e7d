"""How high can any retrieval over dstc10_faq go? Counts the queries whose ticket names the entity.

Every dstc10 gold FAQ belongs to one entity (a hotel, restaurant or attraction), and the
same questions ("Do they take reservations?") exist for hundreds of entities. A query whose
text and two context turns never name the entity (the dialogue only gives its zip code,
phone number or street address, none of which the corpus contains) cannot rank its gold
FAQ above the identical question of the other entities, except by chance. If every entity
of the domain had the question, the chance would be about 1 in 100 to 400 per domain, and the
share of queries that name their entity would bound hit@5 for any retriever over this corpus
(``hit@5_upper_bound``). (It ignores attribute clues such as area, cuisine or price range
that some contexts give: the corpus's FAQ answers almost never state them.)

Not every entity has every question, though: with fewer entities asking it, a retriever that
reads the question perfectly has better chances. ``--paraphrase-pools`` estimates them: it
embeds every FAQ question with its entity's name taken out and counts, per unnamed query, the
entities of the gold's domain that have a question at cosine >= 0.6 / 0.7 / 0.8 to the
gold's. These pools undercount (the same question worded differently falls below the line),
so the ceilings they give are generous; the true one lies between ``hit@5_upper_bound`` and them.

"Names the entity" is deliberately generous, so the bound is an over-estimate:
a query counts if the entity's whole name, or any word of it (a handful of generic words
such as "hotel", "the" or "san francisco" aside), occurs in its text or context: exactly
(also as two adjacent words run together, "wi fi" for "wifi") or, in the fuzzy count,
within one edit for words of 4+ letters ("stan" for "Span"). The chance hits of the unnamed queries are added as an expectation.

With ``--index DIR`` (a folder kept by ``replydesk eval retrieval --index DIR``, or a new
one) it also runs the product's retrieval and splits its hits by named / not named. With
``--drafts`` as well, it drafts every query (offline) and counts, by named / not named, the
drafts that carry the "answered separately for several documents" note
(``Draft.parallel_sources``) and the drafts that cite the gold entity.
Writes JSON to ``benchmarks/results/dstc10_headroom.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from common import machine, write_result  # noqa: E402

DSTC10 = REPO.parent / "shared" / "datasets" / "dstc10_faq"
#: Words that name no particular entity; "san francisco" is where every dialogue happens.
GENERIC_WORDS = frozenset({"a", "an", "and", "at", "by", "of", "on", "the", "in", "hotel", "restaurant", "inn",
                           "san", "francisco", "sf"})
WORD = re.compile(r"[a-z0-9]+")


def name_phrase(title: str) -> str:
    """The entity's whole name as lower-case words (``"inn san francisco"``)."""
    return " ".join(WORD.findall(title.rsplit(" (", 1)[0].lower().replace("'", "")))


def name_words(title: str) -> set[str]:
    """Distinctive words of an entity title such as ``"Grant Hotel (hotel)"``."""
    return {w for w in name_phrase(title).split() if w not in GENERIC_WORDS and len(w) > 1}


def domain_of(title: str) -> str:
    """The domain in a title's trailing parenthesis (``"hotel"``)."""
    return title.rsplit("(", 1)[-1].rstrip(")")


def names_entity(ticket_text: str, title: str, *, fuzzy: bool) -> bool:
    """Whether the ticket contains the entity's whole name or one of its distinctive words."""
    tokens = WORD.findall(ticket_text.lower().replace("'", ""))
    if f" {name_phrase(title)} " in f" {' '.join(tokens)} ":
        return True
    words = name_words(title)
    candidates = set(tokens) | {a + b for a, b in zip(tokens, tokens[1:])}
    if candidates & words:
        return True
    if not fuzzy:
        return False
    from rapidfuzz.distance import OSA

    return any(len(w) >= 4 and abs(len(w) - len(t)) <= 1 and OSA.distance(w, t, score_cutoff=1) <= 1
               for w in words for t in candidates)


def headroom(folder: Path, *, fuzzy: bool) -> dict:
    """Per-query naming verdicts and the resulting bound on hit@5."""
    corpus = {}
    with (folder / "corpus.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            entry = json.loads(line)
            corpus[entry["_id"]] = entry
    entities_by_domain = Counter(domain_of(title) for title in {e["title"] for e in corpus.values()})
    gold = _gold(folder)
    rows = []
    with (folder / "queries.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            query = json.loads(line)
            if query["_id"] not in gold:
                continue
            entry = corpus[gold[query["_id"]]]
            domain = domain_of(entry["title"])
            ticket = f"{query.get('context', '')} {query['text']}"
            named = names_entity(ticket, entry["title"], fuzzy=fuzzy)
            rows.append({"query_id": query["_id"], "entity": entry["title"], "names_entity": named,
                         "says_domain": says_domain(ticket, domain),
                         # Without the name, the best a retriever can do is spread its 5 slots over
                         # the entities of the right domain.
                         "chance_hit@5": 1.0 if named else round(min(1.0, 5 / entities_by_domain[domain]), 4)})
    named = sum(r["names_entity"] for r in rows)
    bound = sum(r["chance_hit@5"] for r in rows) / len(rows)
    return {"queries": len(rows), "name_their_entity": named, "do_not": len(rows) - named,
            "not_named_but_say_their_domain": sum(r["says_domain"] and not r["names_entity"] for r in rows),
            "entities_per_domain": dict(entities_by_domain), "hit@5_upper_bound": round(bound, 4),
            "per_query": rows}


PARAPHRASE_COSINES = (0.6, 0.7, 0.8)


def question_of(entry: dict) -> str:
    """An FAQ entry's question without its entity's name ("Does it allow dogs?")."""
    question = entry["text"].split("\n", 1)[0].removeprefix("Q:").strip()
    question = re.sub(re.escape(entry["title"].rsplit(" (", 1)[0]), "it", question, flags=re.IGNORECASE)
    for word in name_words(entry["title"]):
        question = re.sub(rf"\b{re.escape(word)}\b", "", question, flags=re.IGNORECASE)
    return " ".join(question.split())


def paraphrase_pools(folder: Path, rows: list[dict], named: int) -> dict:
    """Chance ceilings from the entities of each unnamed query's domain that ask its question."""
    import numpy as np

    from kb.config import Settings
    from kb.embedder import get_embedder

    with (folder / "corpus.jsonl").open(encoding="utf-8") as handle:
        corpus = [json.loads(line) for line in handle]
    position = {entry["_id"]: i for i, entry in enumerate(corpus)}
    vectors = np.asarray(get_embedder(Settings(_env_file=None)).encode([question_of(e) for e in corpus]))
    domains = np.array([domain_of(e["title"]) for e in corpus])
    entities = np.array([e["title"] for e in corpus])
    gold = _gold(folder)
    out = {}
    for cosine in PARAPHRASE_COSINES:
        pools, open_pools = [], []
        for row in rows:
            if row["names_entity"]:
                continue
            g = position[gold[row["query_id"]]]
            similar = vectors @ vectors[g] >= cosine
            pools.append(len(set(entities[similar & (domains == domains[g])])))
            # Most of these tickets do not say whether they ask about a hotel, a restaurant or
            # an attraction either, so the pool may span every domain.
            open_pools.append(len(set(entities[similar])))
        chance = sum(min(1.0, 5 / n) for n in pools)
        open_chance = sum(min(1.0, 5 / n) for n in open_pools)
        out[f"cosine>={cosine}"] = {"median_pool": int(np.median(pools)), "pools_of_10_or_fewer": sum(n <= 10 for n in pools),
                                    "expected_chance_hits": round(chance, 2),
                                    "hit@5_ceiling": round((named + chance) / len(rows), 4),
                                    "any_domain": {"median_pool": int(np.median(open_pools)),
                                                   "expected_chance_hits": round(open_chance, 2),
                                                   "hit@5_ceiling": round((named + open_chance) / len(rows), 4)}}
    return out


def says_domain(ticket_text: str, domain: str) -> bool:
    """Whether a ticket names the kind of place it asks about ("that hotel", "the restaurant")."""
    return domain in WORD.findall(ticket_text.lower())


def _gold(folder: Path) -> dict[str, str]:
    gold = {}
    with (folder / "qrels" / "test.tsv").open(encoding="utf-8") as handle:
        next(handle)
        for line in handle:
            query_id, doc_id, score = line.rstrip("\n").split("\t")
            if int(score) > 0:
                gold[query_id] = doc_id
    return gold


def product_hits(folder: Path, index: Path) -> dict[str, int | None]:
    """First relevant rank per query of the product's hybrid retrieval."""
    from eval.retrieval import run_retrieval_eval
    from ingest.pipeline import ingest_records
    from kb.config import Settings

    result = run_retrieval_eval(folder, Settings(_env_file=None), indexer=ingest_records, configs=("hybrid",),
                                keep_home=index, progress=True)
    return {q["query_id"]: q["first_relevant_rank"] for q in result["per_query"]["hybrid"]}


def product_drafts(folder: Path, index: Path) -> dict[str, dict]:
    """Per query: whether the draft carries the parallel-sources note and cites the gold entity."""
    from kb.config import Settings
    from kb.drafting.models import DraftOptions
    from kb.drafting.service import draft_reply
    from kb.knowledge_base import KnowledgeBase
    from kb.retrieval import Retriever
    from kb.types import Ticket

    settings = Settings(_env_file=None, llm_provider="none").with_home(index)
    retriever = Retriever(KnowledgeBase(settings))
    out = {}
    with (folder / "queries.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            query = json.loads(line)
            draft = draft_reply(Ticket(text=query["text"], context=query.get("context") or None), retriever, settings,
                                DraftOptions())
            out[query["_id"]] = {"note": bool(draft.parallel_sources), "titles": {c.title for c in draft.citations}}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=DSTC10)
    parser.add_argument("--index", type=Path, help="index folder for the product run (omit to skip it)")
    parser.add_argument("--drafts", action="store_true", help="with --index: draft every query too")
    parser.add_argument("--paraphrase-pools", action="store_true",
                        help="also estimate how many entities ask each unnamed query's question (embeds 12k questions)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "dstc10_headroom.json")
    args = parser.parse_args()
    if not (args.dataset / "corpus.jsonl").is_file():
        raise SystemExit(f"{args.dataset}: no corpus.jsonl (the shared datasets folder sits beside the repository)")
    exact, fuzzy = headroom(args.dataset, fuzzy=False), headroom(args.dataset, fuzzy=True)
    result = {"machine": machine(), "dataset": str(args.dataset.name),
              "exact_names": {k: v for k, v in exact.items() if k != "per_query"},
              "fuzzy_names": {k: v for k, v in fuzzy.items() if k != "per_query"}}
    if args.paraphrase_pools:
        result["paraphrase_pools"] = paraphrase_pools(args.dataset, fuzzy["per_query"], fuzzy["name_their_entity"])
    if args.index:
        ranks = product_hits(args.dataset, args.index)
        split = Counter()
        for row in fuzzy["per_query"]:
            rank = ranks.get(row["query_id"])
            split[(row["names_entity"], rank is not None and rank <= 5)] += 1
        result["product_hybrid"] = {
            "hit@5": round(sum(v for (_n, hit), v in split.items() if hit) / fuzzy["queries"], 4),
            "hits_among_named": split[(True, True)], "named": fuzzy["name_their_entity"],
            "hits_among_not_named": split[(False, True)], "not_named": fuzzy["do_not"]}
        result["misses_that_name_their_entity"] = [row["query_id"] for row in fuzzy["per_query"]
                                                   if row["names_entity"] and not (ranks.get(row["query_id"]) or 99) <= 5]
        if args.drafts:
            drafts = product_drafts(args.dataset, args.index)
            split = Counter()
            for row in fuzzy["per_query"]:
                draft = drafts[row["query_id"]]
                split[(row["names_entity"], draft["note"], row["entity"] in draft["titles"])] += 1

            def count(**want: bool) -> int:
                return sum(v for (named, note, gold), v in split.items()
                           if all({"named": named, "note": note, "gold": gold}[k] == w for k, w in want.items()))

            result["product_drafts"] = {
                "drafts": fuzzy["queries"], "with_note": count(note=True),
                "with_note_not_citing_gold": count(note=True, gold=False),
                "not_named_with_note": count(named=False, note=True), "not_named": fuzzy["do_not"],
                "named_with_note": count(named=True, note=True), "named": fuzzy["name_their_entity"],
                "without_note_citing_gold": count(note=False, gold=True), "without_note": count(note=False)}
    write_result(result, args.out)


if __name__ == "__main__":
    main()
