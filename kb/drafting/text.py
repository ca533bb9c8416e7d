"""Small text helpers shared by the drafters and the checks: sentences, tokens, clean-up."""

from __future__ import annotations

import re

from kb.words import words

# End of a sentence: ., ! or ? (optionally followed by citation markers) then space and
# a capital/digit. Markers after the stop belong to the sentence before.
# Outside ASCII the next sentence may open with any letter: "Выплаты ..." after a full stop;
# Chinese and Japanese end a sentence with "。！？" and no space; Devanagari with "।".
_SENT_END = re.compile(r"(?<=[.!?])((?:\s*\[\d+\])*)\s+(?=[\"'(]?(?:[A-Z0-9]|[^\x00-\x7f]))"
                       r"|(?<=[。！？।])((?:\s*\[\d+\])*)\s*(?=\S)")
_MD_NOISE = re.compile(r"\*\*|__|(?<!\w)\*(?!\s)|(?<!\s)\*(?!\w)|`")
_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
CITATION = re.compile(r"\[(\d{1,3})\]")
_MARKERS = re.compile(r"[ \t]*(?:\[\d{1,3}\])+")

#: Words too common to say anything about overlap.
STOPWORDS = frozenset(
    "a an the and or but if of to in on at for from by with about as into than then so that this these those it its "
    "is are was were be been being am do does did have has had having i me my we our you your he she they them his "
    "her their what which who whom when where why how can could will would should may might must not no yes just "
    "also there here up out over any all some more most very too only own same other such again once ll re ve s t "
    "d m don doesn didn isn aren wasn weren won hi hello dear thanks thank please".split()
)


_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$")
_EMPTY_CELL = frozenset({"", "-", "—", "–", "n/a"})


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def _tables_as_sentences(lines: list[str]) -> list[str]:
    """Markdown tables rewritten as one sentence per row, each its own paragraph.

    "| Purchase made by a minor | Yes, on request | 60 days |" under "| Situation | Refundable? |
    Window |" reads "Purchase made by a minor — refundable: Yes, on request; window: 60 days.":
    a reply can quote the row that answers the ticket instead of the whole grid.
    """
    out: list[str] = []
    i = 0
    while i < len(lines):
        if (i + 1 < len(lines) and _TABLE_ROW.match(lines[i]) and _TABLE_RULE.match(lines[i + 1])):
            headers = [h.rstrip("?:").strip() for h in _cells(lines[i])]
            i += 2
            while i < len(lines) and _TABLE_ROW.match(lines[i]):
                cells = _cells(lines[i])
                subject = cells[0] if cells else ""
                parts = [f"{header.lower()}: {cell}" if header else cell
                         for header, cell in zip(headers[1:], cells[1:]) if cell.lower() not in _EMPTY_CELL]
                sentence = " — ".join(p for p in (subject, "; ".join(parts)) if p)
                if sentence:
                    out += ["", sentence.rstrip(".") + "."]
                i += 1
            out.append("")
            continue
        out.append(lines[i])
        i += 1
    return out


def clean_markdown(text: str) -> str:
    """Plain text of a Markdown passage: no quote markers, emphasis, list marks or backticks.

    List items without a stop of their own are punctuated so they read as one list, not one
    run-on sentence: "If a regular member: 0 bags for basic economy; 1 bag for economy." A
    list item that ends with ":" opens a new group, so the item before it ends the sentence.
    A table becomes a sentence per row (:func:`_tables_as_sentences`).
    """
    raw = _tables_as_sentences([re.sub(r"^\s*>\s?", "", line) for line in text.splitlines()])
    # A list keeps the line that introduces it across a blank line ("...are true:\n\n- ...").
    raw = [line for i, line in enumerate(raw)
           if line.strip() or not _opens_list(raw, i)]
    is_item = [bool(_LIST_MARK.match(line)) for line in raw]
    depth = [len(line) - len(line.lstrip()) for line in raw]
    lines = [_MD_NOISE.sub("", _LIST_MARK.sub("", line)).rstrip() for line in raw]
    in_item, item_depth = False, 0
    for i, line in enumerate(lines):
        if is_item[i]:
            item_depth = depth[i]
        in_item = is_item[i] or (in_item and bool(line.strip()))
        after = i + 1 < len(lines) and lines[i + 1].strip() and not is_item[i + 1]
        # The last line of an item: its next line is blank, another item, or the end (an item
        # may wrap onto lines of its own).
        if not in_item or after or not line or line[-1] in ".!?:;":
            continue
        # The sentence goes on into a sibling or a sub-item, not into an item that opens a
        # new group (ends with ":") or one of a shallower list (a nested list has ended).
        continues = (i + 1 < len(lines) and is_item[i + 1] and not lines[i + 1].endswith(":")
                     and depth[i + 1] >= item_depth)
        lines[i] = line + (";" if continues else ".")
    return "\n".join(lines)


def _opens_list(lines: list[str], blank: int) -> bool:
    """Whether the blank line at ``blank`` sits between a line ending with ":" and a list item."""
    before = next((line for line in reversed(lines[:blank]) if line.strip()), "")
    after = next((line for line in lines[blank + 1:] if line.strip()), "")
    return bool(_LIST_MARK.match(after)) and _MD_NOISE.sub("", before).rstrip().endswith(":")


def split_sentences(text: str) -> list[str]:
    """Sentences of plain text; list items and paragraphs end a sentence too.

    A citation marker after the full stop (``... days. [2]``) stays with its sentence.
    """
    out: list[str] = []
    for block in re.split(r"\n\s*\n|\n(?=\s*(?:[-*+]|\d+[.)])\s)", text):
        block = " ".join(block.split())
        if not block:
            continue
        pos = 0
        for m in _SENT_END.finditer(block):
            piece = (block[pos:m.start()] + (m.group(1) or m.group(2) or "")).strip()
            if piece:
                out.append(piece)
            pos = m.end()
        if block[pos:].strip():
            out.append(block[pos:].strip())
    return out


def content_tokens(text: str) -> list[str]:
    """Lower-cased words (any script, :func:`kb.words.words`) without stopwords or citation numbers."""
    return [w for w in words(CITATION.sub(" ", text)) if w not in STOPWORDS and len(w) > 1]


def overlap(sentence: str, reference: str) -> float:
    """Share of ``sentence``'s content tokens (types) that occur in ``reference``."""
    mine = set(content_tokens(sentence))
    if not mine:
        return 0.0
    theirs = set(content_tokens(reference))
    # Light stemming by prefix: "payouts" ~ "payout", "refunded" ~ "refund".
    stems = {w[:5] for w in theirs}
    hits = sum(1 for w in mine if w in theirs or (len(w) > 5 and w[:5] in stems))
    return hits / len(mine)


_FIGURE = re.compile(r"\d+(?:[.,:]\d+)*")
# "one" is left out: it is a pronoun as often as a number ("one of our team").
#: Number words and their values (also read by :mod:`kb.drafting.details`).
NUMBER_WORD_VALUES = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())} | {
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "ninety": 90, "hundred": 100}
_NUMBER_WORDS = {w: str(i) for w, i in NUMBER_WORD_VALUES.items() if w != "one"}
# The look-ahead skips words that cannot start a number word (the alternation is slow to try).
_NUMBER_WORD = re.compile(r"\b(?=[zotfsenh])(?:" + "|".join(_NUMBER_WORDS) + r")\b", re.IGNORECASE)


def figures(text: str) -> set[str]:
    """The numbers ``text`` states, normalised ("10,000" -> "10000", "fourteen" -> "14",
    "5.00" -> "5"); citation markers are not numbers."""
    text = _NUMBER_WORD.sub(lambda m: _NUMBER_WORDS[m.group(0).lower()], CITATION.sub(" ", text))
    out = set()
    for raw in _FIGURE.findall(text):
        if ":" in raw:  # a time of day: "3:30" states 3:30
            out.add(raw)
            continue
        number = raw.replace(",", "") if re.fullmatch(r"\d{1,3}(?:,\d{3})+", raw) else raw.replace(",", ".")
        if "." in number:
            number = number.rstrip("0").rstrip(".")
        out.add(number)
    return out


_SPACE_BEFORE_STOP = re.compile(r"\s+([.,;:!?])")


def strip_citations(text: str) -> str:
    """``text`` without ``[n]`` markers ("held for 14 days [1]." -> "held for 14 days.")."""
    return _SPACE_BEFORE_STOP.sub(r"\1", " ".join(CITATION.sub("", text).split()))


def reply_text(draft_text: str) -> str:
    """The draft as its reader should get it: without the ``[n]`` markers, which are for the
    specialist (line breaks and paragraphs kept)."""
    return _MARKERS.sub("", draft_text)
