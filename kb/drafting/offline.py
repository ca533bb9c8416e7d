"""The offline drafter: a deterministic, network-free first draft assembled from guidance.

How a draft is built:

1. **Candidates.** Only *external* passages are read (internal ones are never quoted).
   Each passage is cleaned of Markdown and split into sentences. Reply-template
   sections (``Reply template...`` headings, or a passage opening with ``Hi {name}``)
   and resolved Q&A or FAQ answers (doc type ``qa``) are user-facing and preferred; other
   sentences are kept only when they read as facts for the user, not as instructions to
   specialists (sentences naming "specialist", "queue", "SOP", ... are dropped, and in an
   SOP also "ticket", "agent", "internal" and "route", which a policy or FAQ may use in the
   user's own sense: "change your ticket", "internal flights"; an SOP's commands, "Do not …",
   "Never …", and sentences about "the user" are for the desk too, and so, in any document,
   is a command about "the user" or a sentence naming both the agent and the user). Anything
   that looks like an instruction to an AI ("ignore previous instructions", "system:")
   is dropped too: a document is data, never a command.
2. **Scores.** A cheap pre-score (lexical overlap, user-facing, the passage's retrieval
   cosine) keeps the best 8 candidates; each of those gets ``0.55 * cosine(ticket, sentence)`` (the knowledge
   base's embedder) ``+ 0.25 * lexical overlap`` ``+ 0.15`` for user-facing text ``+ 0.10 /
   (1 + passage rank)``.
3. **Selection.** The passage with the best sentences is the *anchor*: its relevant
   sentences are kept in their original order, so the reply reads like the template it
   came from. Remaining room (2 / 4 / 7 sentences for short / normal / detailed) goes
   to the best sentences of other passages that add something new (cosine < 0.8 to
   everything chosen, not mostly words of a chosen sentence, and not a longer restatement
   of one). A table is read as one sentence per row, so the row that answers is quotable.
4. **Assembly.** Greeting, an acknowledgement that names the ticket's topic, the
   selected sentences with ``[n]`` after each, and a closing, all in the requested
   tone and in the form of the ticket's channel (an e-mail signs off; a chat message does
   not; a public social reply is two sentences and a pointer to direct messages, unless it
   follows an escalation procedure; a phone reply is a talk track). Template placeholders
   are rewritten: ``{name}`` is dropped, ``{a / b}`` becomes "a or b", anything else
   becomes a visible ``[fill in: ...]`` for the specialist.
5. **Corroboration.** A sentence taken from a resolved Q&A answer also cites the policy or
   SOP passage that says the same (cosine >= 0.75, same numbers), so the specialist sees
   the rule behind a past answer.
"""

from __future__ import annotations

import math
import re
from collections import Counter
import time
from dataclasses import dataclass

import numpy as np

from kb.drafting.models import Citation, Draft, DraftOptions, DraftRisk
from kb.drafting.parallel import other_cases
from kb.vector_cache import sentence_vectors
from kb.drafting.text import clean_markdown, content_tokens, overlap, split_sentences
from kb.drafting.voice import speaks_to_desk_in, written_for_desk, to_second_person
from kb.embedder import token_window
from kb.query import RECENT_CONTEXT_TOKENS, dense_views
from kb.thread import as_turns
from kb.risk import RiskAssessment
from kb.types import Hit, Ticket

SENTENCE_BUDGET = {"short": 2, "normal": 4, "detailed": 7}
W_COSINE, W_LEXICAL, W_USER_FACING, W_RANK = 0.55, 0.25, 0.15, 0.10
#: Candidates below this score are not worth adding outside the anchor passage.
MIN_EXTRA_SCORE = 0.35
#: Sentences scored with the embedder (the rest are cut by cheap signals first).
SHORTLIST = 8
REDUNDANT_COSINE = 0.8
#: Share of a sentence's words already in a chosen sentence that makes it a repeat.
CONTAINED_OVERLAP = 0.9
#: Share of a chosen sentence's words that a longer candidate repeats to restate it (with a
#: few additions), for chosen sentences of at least :data:`RESTATED_MIN_WORDS` content words.
RESTATED_OVERLAP = 0.85
RESTATED_MIN_WORDS = 6
#: A policy or SOP sentence this close to a resolved-Q&A sentence (and stating the same
#: numbers) corroborates it: the reply cites the policy beside the past answer.
CORROBORATE_COSINE = 0.75
#: Policy sentences embedded per Q&A sentence, picked by shared words (a sentence that says
#: the same thing shares most of its words), and the least overlap worth embedding.
CORROBORATE_SHORTLIST = 3
CORROBORATE_MIN_OVERLAP = 0.25
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")

#: Sentences that speak to the specialist, not the user (any passage that is not written for users).
_SPECIALIST_TALK = re.compile(
    r"\b(?:specialists?|support agents?|queues?|sop|this document|escalat\w*|ledger view|casedesk|"
    r"sentinel|modtrace|routing|tag the|owning team|sla|on-?call|do not tell|don't tell|never tell|"
    r"reply template|this policy explains|this sop)\b"
    # Notes on the document's own history ("Version 2 extends the refund window to 14 days.").
    r"|^(?:in )?version \d+\b|\b(?:this|the previous|an earlier) version of (?:this|the) (?:sop|policy|document|guide)\b",
    re.IGNORECASE,
)
#: In an SOP, which is written for specialists, these words are about the support desk too. In
#: a policy they are often the user's own words ("change your ticket", "internal flights",
#: "bus route", "our agents at the airport").
_SOP_TALK = re.compile(r"\b(?:agents?|tickets?|internal|route)\b"
                       # Commands to the desk, and the reader spoken of in the third person
                       # ("the user must first have cellular service").
                       r"|^(?:do not|don'?t|never|always)\b|\bthe (?:user|customer|caller)(?:'s)?\b",
                       re.IGNORECASE)
#: In any document, the reader spoken of in the third person by a command or next to the
#: staff member who acts ("Do not add bags the user does not need", "The agent must ask the
#: customer ...") is an instruction to the desk.
_DESK_INSTRUCTION = re.compile(
    r"(?=.*\bthe (?:user|customer|caller)(?:'s)?\b)"
    r"(?:^(?:do not|don'?t|never|always)\b|.*\bthe (?:agent|staff|representative|advisor)s?\b)",
    re.IGNORECASE,
)
_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget) (?:all |any |the )?(?:previous|prior|above|earlier|your) (?:instructions|rules|prompts?)"
    r"|\b(?:system|assistant)\s*(?:prompt|message)?\s*:|\byou are now\b|\breveal (?:the |your )?(?:internal|system|hidden)"
    r"|<\s*/?\s*(?:system|guidance|ticket|instructions)\b",
    re.IGNORECASE,
)
_GREETING_LINE = re.compile(r"^\s*(?:hi|hello|dear|hey)\b[^.!?\n]{0,40},?\s*$", re.IGNORECASE)
_QA = re.compile(r"^\s*Q:.*?\n\s*A:\s*(.*)$", re.DOTALL)
_PLACEHOLDER = re.compile(r"\{([^{}]{1,60})\}")
#: A template's salutation run into its first sentence ("Hi {name}, I'm sorry ..."), as text
#: extracted from a PDF has it: the draft opens with its own greeting.
_LEADING_SALUTATION = re.compile(r"^\s*(?:hi|hello|dear|hey)(?:\s+(?:\{[^{}]{1,60}\}|[A-Z][\w'-]*))?\s*,\s+(?=\S)",
                                 re.IGNORECASE)
_TEMPLATE_START = re.compile(r"^\s*>?\s*(?:hi|dear|hello) \{name\}", re.IGNORECASE)
_ACK_START = re.compile(r"^(?:thank(?:s| you)|i'?m (?:so |really )?sorry|we'?re sorry)\b", re.IGNORECASE)

#: What a ticket is about, as the acknowledgement names it. Whole words only, and only words
#: that mean the same thing in other support domains ("bank" is not a payout, "mean" not
#: harassment): the phrase must never name the wrong thing.
_TOPIC_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"\b(?:hack(?:ed|er|ers)?|log ?in|password|locked out of (?:my|the) account|2fa|reset code|get back in(?:to)?|"
     r"recover (?:my|the) account|account recovery)\b", "your account access"),
    (r"\b(?:payouts?|paid out|withdraw(?:ing)? (?:my )?(?:earnings|balance)|tax forms?|earnings)\b", "your payout"),
    (r"\b(?:coins?|gifts?)\b(?! cards?)", "your coins and gifts"),
    (r"\b(?:refund(?:s|ed)?)\b", "your refund"),
    (r"\b(?:campaigns?|brands?(?! new)|sponsor(?:s|ed|ship)?|paid partnership)\b", "your campaign"),
    (r"\b(?:appeal(?:s|ed|ing)?|taken down|strikes?|banned|community guidelines?|violations?)\b"
     r"|\b(?:removed|took down|deleted) (?:my |the |our )?(?:video|post|content|live)\b"
     r"|\b(?:video|post|content|live) (?:got |was |has been |been )?(?:removed|taken down|deleted)\b",
     "your content and account status"),
    (r"\b(?:impersonat\w*|fake account|pretending to be)\b|pics and my name", "the account you reported"),
    (r"\b(?:harass\w*|bull(?:y|ied|ying)|spam\w*|hateful comments|mean comments)\b", "what you've been experiencing"),
    (r"\b(?:delete|close) my account\b", "your request to delete your account"),
    (r"\b(?:delete my data|my data|copy of (?:everything|all (?:my|the) data|my data|my information)|gdpr|"
     r"data request)\b", "your data request"),
    (r"\bcreator marketplace\b", "the Creator Marketplace"),
    (r"\b(?:username|profile|bio)\b", "your profile"),
)
_TOPICS = tuple((re.compile(pattern, re.IGNORECASE), phrase) for pattern, phrase in _TOPIC_PATTERNS)
_UPSET = re.compile(r"!!|\?\?|scared|afraid|frustrat|angry|upset|ridiculous|unfair|worried|terrible|help|please",
                    re.IGNORECASE)

_TEXTS = {
    "friendly": {"greeting": "Hi there,", "ack": "Thanks for reaching out about {topic}.",
                 "ack_upset": "Thanks for reaching out about {topic}, and I'm sorry for the trouble.",
                 "ack_plain": "Thanks for reaching out.",
                 "ack_upset_plain": "Thanks for reaching out, and I'm sorry for the trouble.",
                 "closing": "If anything else comes up, just reply to this message and we'll be happy to help.",
                 "signoff": "Best wishes,"},
    "formal": {"greeting": "Hello,", "ack": "Thank you for contacting us regarding {topic}.",
               "ack_upset": "Thank you for contacting us regarding {topic}. We apologise for the inconvenience.",
               "ack_plain": "Thank you for contacting us.",
               "ack_upset_plain": "Thank you for contacting us. We apologise for the inconvenience.",
               "closing": "Should you have any further questions, please reply to this message.",
               "signoff": "Kind regards,"},
    "empathetic": {"greeting": "Hi,", "ack": "Thank you for writing to us about {topic}; I understand how much this matters to you.",
                   "ack_upset": "I'm really sorry you're dealing with this, and thank you for telling us about {topic}.",
                   "ack_plain": "Thank you for writing to us; I understand how much this matters to you.",
                   "ack_upset_plain": "I'm really sorry you're dealing with this, and thank you for telling us.",
                   "closing": "We're here if you need anything else, so please don't hesitate to reply.",
                   "signoff": "Take care,"},
}
_HOLDING = {
    "friendly": "I want to make sure you get an accurate answer, so I'm checking this with the right team and will get back to you as soon as I can.",
    "formal": "To make sure we give you an accurate answer, we are confirming the details with the responsible team and will reply as soon as possible.",
    "empathetic": "I want to get this right for you, so I'm checking with the right team and will come back to you as soon as I can.",
}
#: Shown to the specialist (not the user) when retrieval was not confident.
INSUFFICIENT_NOTE = ("[Note to specialist: the knowledge base has no confident guidance for this ticket "
                     "(retrieval confidence {confidence:.2f} < {threshold:.2f}). Check with the knowledge owner "
                     "before answering; do not guess. The reply below only acknowledges the message.]")
_LANGUAGE_NOTE = ("[Note to specialist: the ticket is in '{language}' but offline drafts are assembled from "
                  "the guidance as written; translate the reply before sending.]")


@dataclass(frozen=True)
class _Candidate:
    passage: int          # index into the external hits
    order: int            # position of the sentence in its passage
    text: str             # user-ready sentence (placeholders rewritten)
    source: str           # the sentence as the passage has it (the quote)
    user_facing: float    # 1.0 reply template, 0.7 resolved Q&A answer, 0.0 SOP fact


def _rewrite_placeholders(sentence: str) -> str:
    sentence = re.sub(r",?\s*\{name\}", "", sentence)

    def _sub(m: re.Match[str]) -> str:
        inner = m.group(1).strip()
        if "/" in inner or "|" in inner:
            return " or ".join(p.strip() for p in re.split(r"[/|]", inner))
        return f"[fill in: {inner.replace('_', ' ')}]"

    return _PLACEHOLDER.sub(_sub, sentence)


def is_reply_template(hit: Hit) -> bool:
    """Whether a passage is a reply template (its section says so, or it opens "Hi {name}")."""
    return "reply template" in (hit.section or "").lower() or bool(_TEMPLATE_START.match(hit.text))


def _user_text(hit: Hit) -> tuple[str, float]:
    """The part of a passage that may face the user, and how clearly it is written for users.

    Reply templates (1.0) win over resolved Q&A answers (0.7): a template is the owner's
    approved wording, a Q&A answer is one specialist's past reply.
    """
    qa = _QA.match(hit.text)
    if qa:
        return qa.group(1), 0.7
    if is_reply_template(hit):
        return hit.text, 1.0
    # A resolved answer or FAQ entry stored without "Q:" / "A:" is still written for users.
    return hit.text, 0.7 if hit.doc_type == "qa" else 0.0


def _is_qa(hit: Hit) -> bool:
    return hit.doc_type == "qa" or bool(_QA.match(hit.text))


def _speaks_to_specialist(sentence: str, hit: Hit, *, staff_passage: bool) -> bool:
    return bool(_SPECIALIST_TALK.search(sentence) or sentence.endswith(":") or _DESK_INSTRUCTION.match(sentence)
                or speaks_to_desk_in(sentence, staff_passage=staff_passage)
                or (hit.doc_type == "sop" and _SOP_TALK.search(sentence)))


def _section_key(hit: Hit) -> tuple[str, int, str]:
    return hit.doc_id, hit.version, hit.section or ""


def _screened(hit: Hit, user_facing: float) -> bool:
    """Whether a passage's sentences may hold a word to the desk: templates and "A:" answers
    were sent to users as they are (``user_facing`` from :func:`_user_text`)."""
    return user_facing < 1.0 and not _QA.match(hit.text)


#: "This" / "that" naming what it points at ("This policy ...", "That fee ...") stands alone.
_NAMES_ITS_THING = (r"(?!\s+(?:policy|section|rule|page|article|guide|document|process|option|feature|fee|service|"
                    r"plan|offer|order|item|account)s?\b)")
#: A sentence that opens by pointing back ("This will change the status of the bill", "This
#: loads the account in the background"): it means nothing without the sentence before it.
_POINTS_BACK = re.compile(rf"^(?:this|that|these|those|it|they|then)\b{_NAMES_ITS_THING}", re.IGNORECASE)


#: Openers that always lean on the sentence before ("After that it's sent in the next Tuesday
#: payout run."): said without it, the reader cannot tell what "that" is.
_NEEDS_PREVIOUS = re.compile(r"^(?:after that|once (?:that|this)|if so|if not|otherwise|in that case|then|"
                             rf"(?:this|that|these|those)\b{_NAMES_ITS_THING})\b", re.IGNORECASE)


def _leans_on_previous(candidate: "_Candidate", hit: Hit) -> bool:
    """Whether ``candidate`` cannot be said without the sentence before it in its passage (the
    first sentence of a resolved answer may lean on its question, which the user asked)."""
    if candidate.order == 0 and _QA.match(hit.text):
        return False
    return bool(_NEEDS_PREVIOUS.match(candidate.source.lstrip("> ").strip()))


def candidates(hits: list[Hit]) -> list[_Candidate]:
    """User-quotable sentences of the external passages (see the module docstring)."""
    out = []
    texts = [_user_text(hit) for hit in hits]
    passages = [split_sentences(clean_markdown(body)) for body, _ in texts]
    # A section cut into several chunks is written for one audience: the instruction that
    # tells who reads it may sit in another of its chunks.
    staff_sections = {_section_key(hit) for hit, (_, user_facing), sentences in zip(hits, texts, passages)
                      if not hit.is_internal and _screened(hit, user_facing) and written_for_desk(sentences)}
    for p, hit in enumerate(hits):
        if hit.is_internal:
            continue
        user_facing = texts[p][1]
        screened = _screened(hit, user_facing)
        staff_passage = screened and _section_key(hit) in staff_sections
        # In a section written for staff, what a sentence points back to is a step for staff
        # unless it was kept; at a chunk's start it is not even in the passage.
        kept_previous = not staff_passage
        for order, raw in enumerate(passages[p]):
            kept = _quotable(raw, hit, screened=screened, staff_passage=staff_passage)
            if kept is not None and staff_passage and not kept_previous and _POINTS_BACK.match(raw):
                # Its antecedent was an instruction to staff ("Send the user a payment request.").
                kept = None
            kept_previous = kept is not None
            if kept is not None:
                out.append(_Candidate(p, order, kept, raw, user_facing))
    return out


def _quotable(raw: str, hit: Hit, *, screened: bool, staff_passage: bool) -> str | None:
    """``raw`` as the user may be told it, or ``None`` when it is not for the user."""
    if _GREETING_LINE.match(raw) or _INJECTION.search(raw):
        return None
    rest = _LEADING_SALUTATION.sub("", raw, count=1)
    if rest != raw:
        raw = rest[:1].upper() + rest[1:]
    if len(raw.split()) < 4:
        return None
    if screened and _speaks_to_specialist(raw, hit, staff_passage=staff_passage):
        return None
    # A rule about "the user" is said to the user ("You need to ...").
    said = to_second_person(raw) if screened else raw
    if said is None and staff_passage:
        # Staff guidance about the user that cannot be said to them ("the phone number the
        # user provided") is the staff's.
        return None
    text = _rewrite_placeholders(said or raw)
    return None if _GREETING_LINE.match(text) else text


#: How many of the best-matching external passages are checked for being written for staff only.
STAFF_ONLY_TOP = 2


def staff_only_sources(hits: list[Hit], cands: list[_Candidate], top: int = STAFF_ONLY_TOP) -> tuple[str, ...]:
    """Sections among the ``top`` external passages that have sentences but none the user may be told.

    Args:
        hits: the external passages, best first (the indices ``cands`` refer to).
        cands: :func:`candidates` of ``hits``.
    """
    quotable = {c.passage for c in cands}
    out = []
    for p, hit in enumerate(hits[:top]):
        if p in quotable:
            continue
        body, _ = _user_text(hit)
        if any(len(s.split()) >= 4 and not _GREETING_LINE.match(s) for s in split_sentences(clean_markdown(body))):
            out.append(hit.section or hit.title)
    return tuple(dict.fromkeys(out))


def _lexical(ticket_tokens: set[str], sentence: str, weights: dict[str, float] | None = None) -> float:
    mine = set(content_tokens(sentence))
    if not mine or not ticket_tokens:
        return 0.0
    if weights is None:
        return len(mine & ticket_tokens) / (len(mine) * len(ticket_tokens)) ** 0.5

    def weight(words: set[str]) -> float:
        # In sorted order: a set's order changes with the hash seed, and so would the last bit
        # of the sum, and with it a near tie between two sentences.
        return math.fsum(weights.get(w, 1.0) for w in sorted(words))

    return weight(mine & ticket_tokens) / (weight(mine) * weight(ticket_tokens)) ** 0.5


def distinctive_weights(cands: list[_Candidate]) -> dict[str, float]:
    """Each candidate word's weight in (0, 1]: 1 for a word only one sentence has, less the
    more sentences share it (a word absent from every candidate weighs 1)."""
    df = Counter(w for c in cands for w in set(content_tokens(c.text)))
    scale = math.log(1 + len(cands))
    return {w: math.log(1 + len(cands) / n) / scale for w, n in df.items()}


def topic_of(ticket: Ticket, guidance: str | None = None) -> str | None:
    """A short noun phrase for the acknowledgement ("your payout"), or ``None``.

    Args:
        ticket: the ticket; its message is looked at first, then the conversation.
        guidance: the text the reply is drawn from (titles and passages). When given, the
            topic must be in it too: a ticket that says "refund" about a hotel booking is
            answered by hotel guidance, and "your coins and gifts" would name the wrong thing.
    """
    for text in (ticket.text, f"{ticket.context} {ticket.text}"):
        for pattern, phrase in _TOPICS:
            if pattern.search(text) and (guidance is None or pattern.search(guidance)):
                return phrase
    return None


def acknowledgement(tone: str, ticket: Ticket, guidance: str | None = None, channel: str = "email") -> str:
    """The sentence that acknowledges the ticket, naming its topic when it is clear (on a call,
    the user called rather than wrote)."""
    t = _TEXTS[tone]
    upset = bool(_UPSET.search(ticket.text))
    topic = topic_of(ticket, guidance)
    if topic is None:
        said = t["ack_upset_plain"] if upset else t["ack_plain"]
    else:
        said = (t["ack_upset"] if upset else t["ack"]).format(topic=topic)
    if channel == "phone":
        said = said.replace("reaching out", "calling").replace("writing to us", "calling us")
    return said


#: Openers of a message that is not an e-mail, per tone.
_SHORT_GREETINGS = {"friendly": "Hi there!", "formal": "Hello.", "empathetic": "Hi!"}
#: How a reply that is not an e-mail closes, per channel and tone (e-mails close and sign off
#: as ``_TEXTS`` says).
_CHANNEL_CLOSINGS = {
    "chat": {"friendly": "Is there anything else I can help with?",
             "formal": "Is there anything else I can assist you with?",
             "empathetic": "I'm here if there's anything else you need."},
    "social": {"friendly": "For anything about your account, please send us a direct message so we can look into "
                           "it privately.",
               "formal": "For questions about your account, please send us a direct message so we can assist "
                         "you privately.",
               "empathetic": "If this is about your account, please send us a direct message so we can look into "
                             "it privately."},
    "phone": {"friendly": "Is there anything else I can help you with today?",
              "formal": "Is there anything else I can assist you with today?",
              "empathetic": "Is there anything else I can do for you today?"},
}
_CHANNEL_CLOSINGS["in-app"] = _CHANNEL_CLOSINGS["chat"]
_SENSITIVE_SOCIAL_CLOSING = "Please send us a direct message so we can help you privately."


def _wrap(tone: str, body: list[str], signature: str, *, ack: str | None, channel: str = "email",
          sensitive: bool = False) -> str:
    """The reply around its body, in the form its channel needs.

    An e-mail greets, acknowledges, answers, closes and signs off. A chat or in-app message
    opens with a short greeting and the acknowledgement on one line and does not sign off. A
    public social reply is one short paragraph without an acknowledgement that moves account
    matters to a direct message (``sensitive``: a high-risk ticket, it offers help there rather
    than account help). A phone reply is a talk track: no greeting, no sign-off. A reply that
    follows an escalation procedure (``sensitive``) ends with its template (an e-mail then
    signs off): "If anything else comes up ... happy to help" after a crisis line reads as
    closing the matter, and the template says itself how to write back.
    """
    if channel == "email":
        t = _TEXTS[tone]
        parts = [t["greeting"], *([ack] if ack else []), *body, *([] if sensitive else [t["closing"]]),
                 f"{t['signoff']}\n{signature}"]
        return "\n\n".join(parts)
    greeting, closing = _SHORT_GREETINGS[tone], _CHANNEL_CLOSINGS[channel][tone]
    if channel == "social" and sensitive:
        closing = _SENSITIVE_SOCIAL_CLOSING
    elif sensitive:
        # "Is there anything else I can help with?" after a procedure's reply (a crisis line, a
        # threat being reviewed) reads as closing the matter; the template ends the message.
        closing = None
    if channel == "social":
        return " ".join([greeting, *body, closing])
    if channel == "phone":
        return "\n\n".join([*([ack] if ack else []), *body, *([closing] if closing else [])])
    return "\n\n".join([" ".join([greeting, *([ack] if ack else [])]), *body, *([closing] if closing else [])])


class OfflineDrafter:
    """Deterministic drafter (the default, and the fallback when an LLM fails).

    Args:
        embedder: the knowledge base's text embedder (``encode`` -> normalised rows).
        signature: sign-off line under the closing.
        context_tokens: how much of the earlier conversation (latest first) picks the
            sentences, in tokens (``Settings.dense_context_tokens``).
    """

    mode = "offline"

    def __init__(self, embedder, *, signature: str = "The Support Team",
                 context_tokens: int = RECENT_CONTEXT_TOKENS) -> None:
        self.embedder = embedder
        self.signature = signature
        self.context_tokens = context_tokens
        self._vectors = sentence_vectors(embedder)

    def select(self, ticket: Ticket, hits: list[Hit], length: str, *, lead: int = 0,
               cands: list[_Candidate] | None = None) -> list[_Candidate]:
        """The sentences the reply will say, in reading order.

        Args:
            ticket: the ticket, a pasted thread already taken apart (:meth:`draft` does it).
            lead: the first ``lead`` passages are a procedure the reply must follow (the
                escalation SOP of a high-risk ticket): the anchor is chosen among them, and
                when they hold reply templates the first of those is the reply, whole.
            cands: :func:`candidates` of ``hits``, when the caller has them already.
        """
        cands = candidates(hits) if cands is None else cands
        if not cands:
            return []
        context, message = ticket.context or "", ticket.text
        queries = [message]
        if context:
            # A short conversation picks the sentences whole. A long thread is read as
            # retrieval reads it: its latest turns with the message, and the message alone
            # (its last turns alone would pick "thanks for your patience" after a "you've
            # been patient", the message alone would drop what the latest turns are about).
            count_tokens, window = token_window(self.embedder)
            views = dense_views(context, message, count_tokens, window=window, context_tokens=self.context_tokens)
            queries = views if len(views) > 1 else [f"{context}\n{message}"]
        # A rule stated per case ("a silver member: ...", "a gold member: ...") is quoted only
        # for the case the ticket names, when it names one.
        excluded = other_cases([(hits[c.passage].doc_id, c.text) for c in cands], f"{context}\n{message}")
        # A sentence a passage repeats ("Nothing to enter in the form.") is said once. (The same
        # sentence in two passages stays: which one to cite is the scoring's choice.)
        first_of: dict[tuple[int, str], int] = {}
        for i, c in enumerate(cands):
            first_of.setdefault((c.passage, c.text), i)
        cands = [c for i, c in enumerate(cands) if i not in excluded and first_of[(c.passage, c.text)] == i]
        if not cands:
            return []
        tokens = set(content_tokens(queries[0]))
        weights = distinctive_weights(cands)
        # Shortlist with cheap signals (lexical, user-facing, the passage's own retrieval
        # cosine) so only a few sentences ever need the embedder.
        cheap = [W_LEXICAL * _lexical(tokens, c.text, weights) + W_USER_FACING * c.user_facing + W_RANK / (1 + c.passage)
                 + W_COSINE * (hits[c.passage].dense_score or 0.0) for c in cands]
        order = sorted(range(len(cands)), key=lambda i: (-cheap[i], i))[:SHORTLIST]
        # The procedure's reply templates join the shortlist whole: one of them is the reply.
        order = set(order) | {i for i, c in enumerate(cands) if c.passage < lead and c.user_facing >= 1.0}
        cands = [cands[i] for i in sorted(order)]
        # A procedure's reply template is what the procedure says to send ("After handing over,
        # send the reply template"): when the procedure has one, the reply is that template,
        # whole (its safety lines are never cut) and alone (the ticket's other questions wait:
        # a wellbeing reply does not also answer a payout question). The lead comes best
        # first (kb.drafting.escalation.best_template_first ranks a procedure's templates).
        templates = sorted({c.passage for c in cands if c.passage < lead and c.user_facing >= 1.0})
        if templates:
            return [c for c in cands if c.passage == templates[0]]
        encoded = self._vectors.encode(queries + [c.text for c in cands])
        vectors = encoded[len(queries) - 1:]  # row 0: the last query; rows 1..: the candidates
        cos = (encoded[len(queries):] @ encoded[:len(queries)].T).mean(axis=1)
        scores = np.array([W_COSINE * cos[i] + W_LEXICAL * _lexical(tokens, c.text, weights)
                           + W_USER_FACING * c.user_facing + W_RANK / (1 + c.passage)
                           - (0.05 if "[fill in:" in c.text else 0.0)
                           for i, c in enumerate(cands)])
        budget = SENTENCE_BUDGET[length]
        # Anchor passage: best mean of its top-2 sentences (one lucky sentence is not enough).
        by_passage: dict[int, list[int]] = {}
        for i, c in enumerate(cands):
            by_passage.setdefault(c.passage, []).append(i)
        eligible = [p for p in by_passage if p < lead] or list(by_passage)
        anchor = max(eligible, key=lambda p: (np.mean(sorted(scores[by_passage[p]])[-2:]), -p))
        anchor_idx = by_passage[anchor]
        floor = max(scores[anchor_idx]) - 0.25
        keep = sorted(sorted((i for i in anchor_idx if scores[i] >= floor), key=lambda i: -scores[i])[:budget])
        # A kept sentence that leans on a sentence the draft does not say goes too.
        orders = {cands[i].order for i in keep}
        keep = [i for i in keep if cands[i].order - 1 in orders or not _leans_on_previous(cands[i], hits[anchor])]
        chosen = list(keep)
        for i in np.argsort(-scores):
            if len(chosen) >= budget:
                break
            i = int(i)
            if i in chosen or scores[i] < MIN_EXTRA_SCORE:
                continue
            if _leans_on_previous(cands[i], hits[cands[i].passage]) and not any(
                    cands[j].passage == cands[i].passage and cands[j].order == cands[i].order - 1 for j in chosen):
                continue
            sims = vectors[1 + np.array(chosen)] @ vectors[1 + i]
            if sims.max() >= REDUNDANT_COSINE:
                continue
            # A shorter sentence saying part of a chosen one ("All campaign videos must carry
            # the label." after "All campaign videos must carry the label, which ...") scores
            # below the cosine bar but says nothing new.
            if any(overlap(cands[i].text, cands[j].text) >= CONTAINED_OVERLAP for j in chosen):
                continue
            # Nor does a longer one that repeats nearly all of a chosen sentence ("A creator can
            # apply when ... 18 or older ... at least 10,000 followers ..." after "To join,
            # creators need to be 18 or older, have at least 10,000 followers, ..."): the
            # reader would read the same list twice.
            if any(len(set(content_tokens(cands[j].text))) >= RESTATED_MIN_WORDS
                   and overlap(cands[j].text, cands[i].text) >= RESTATED_OVERLAP for j in chosen):
                continue
            chosen.append(i)
        anchor_part = [cands[i] for i in keep]
        extra_part = [cands[i] for i in chosen if i not in keep]
        return anchor_part + extra_part

    def corroboration(self, chosen: list[_Candidate], hits: list[Hit]) -> dict[int, list[tuple[int, str]]]:
        """Policy or SOP sentences that state what a chosen resolved-Q&A sentence says.

        A resolved Q&A answer is one specialist's past reply; the policy is the source of
        truth. When a policy passage among ``hits`` has a sentence within
        :data:`CORROBORATE_COSINE` of the Q&A sentence and with the same numbers ("14
        days"), the reply cites that passage too, so the specialist sees the rule behind
        the answer.

        Returns:
            index in ``chosen`` -> ``[(passage index, supporting sentence)]``.
        """
        from_qa = [i for i, c in enumerate(chosen) if _is_qa(hits[c.passage])]
        if not from_qa:
            return {}
        policy = [(p, sentence) for p, hit in enumerate(hits)
                  if not hit.is_internal and not _is_qa(hit)
                  for sentence in split_sentences(clean_markdown(hit.text)) if len(sentence.split()) >= 4]
        # Cheap filters first (same numbers, shared words), so only a few sentences are embedded.
        shortlists: dict[int, list[int]] = {}
        for i in from_qa:
            numbers = set(_NUMBER.findall(chosen[i].text))
            tokens = set(content_tokens(chosen[i].text))
            overlap = [(_lexical(tokens, sentence), k) for k, (_p, sentence) in enumerate(policy)
                       if numbers <= set(_NUMBER.findall(sentence))]
            picked = [k for score, k in sorted(overlap, key=lambda x: (-x[0], x[1]))[:CORROBORATE_SHORTLIST]
                      if score >= CORROBORATE_MIN_OVERLAP]
            if picked:
                shortlists[i] = picked
        if not shortlists:
            return {}
        needed = sorted({k for picked in shortlists.values() for k in picked})
        vectors = self._vectors.encode([chosen[i].text for i in shortlists] + [policy[k][1] for k in needed])
        column = {k: j for j, k in enumerate(needed)}
        own = dict(zip(shortlists, vectors[:len(shortlists)]))
        theirs = vectors[len(shortlists):]
        out: dict[int, list[tuple[int, str]]] = {}
        for i, picked in shortlists.items():
            scored = [(float(theirs[column[k]] @ own[i]), k) for k in picked]
            supporting = [(score, k) for score, k in scored if score >= CORROBORATE_COSINE]
            if supporting:
                _score, k = max(supporting, key=lambda x: (x[0], -x[1]))
                out[i] = [policy[k]]
        return out

    def draft(self, ticket: Ticket, hits: list[Hit], options: DraftOptions, *, lead: int = 0) -> Draft:
        """Assemble a reply from the external passages in ``hits`` (see the module docstring).

        Args:
            lead: how many leading hits are the escalation procedure to follow (see :meth:`select`).
        """
        start = time.perf_counter()
        external = [h for h in hits if not h.is_internal]
        lead = sum(1 for h in hits[:lead] if not h.is_internal)
        # A pasted thread is answered (and acknowledged) for its last customer turn.
        ticket = as_turns(ticket)
        # A public reply stays short whatever length was asked for, except when it follows an
        # escalation procedure: its safety steps ("call your local emergency number") are
        # never cut.
        length = "short" if options.channel == "social" and not lead else options.length
        quotable = candidates(external)
        chosen = self.select(ticket, external, length, lead=lead, cands=quotable)
        # Beside an escalation procedure the specialist has the procedure to follow already.
        staff_only = () if lead else staff_only_sources(external, quotable)
        support = self.corroboration(chosen, external)
        numbers: dict[int, int] = {}
        quotes: dict[int, list[str]] = {}
        body_sentences = []
        for i, c in enumerate(chosen):
            markers = []
            for passage, quote in [(c.passage, c.source)] + support.get(i, []):
                n = numbers.setdefault(passage, len(numbers) + 1)
                if quote not in quotes.setdefault(n, []):
                    quotes[n].append(quote)
                markers.append(f"[{n}]")
            text = c.text.rstrip()
            end = text[-1] if text[-1] in ".!?" else "."
            text = text[:-1].rstrip() if text[-1] in ".!?" else text
            body_sentences.append(f"{text} {''.join(markers)}{end}")
        citations = []
        for p, n in numbers.items():
            h = external[p]
            quote = " … ".join(quotes[n])
            citations.append(Citation(n=n, doc_id=h.doc_id, title=h.title, version=h.version, page=h.page,
                                      section=h.section, quote=quote[:400], chunk_id=h.chunk_id))
        # A template that opens with its own thanks/apology already acknowledges the ticket.
        opens_with_ack = bool(chosen) and bool(_ACK_START.match(chosen[0].text))
        guidance = " ".join(f"{external[p].title} {external[p].text}" for p in dict.fromkeys(c.passage for c in chosen))
        ack = None if opens_with_ack else acknowledgement(options.tone, ticket, guidance, options.channel)
        body = [" ".join(body_sentences)] if body_sentences else [_HOLDING[options.tone]]
        text = _wrap(options.tone, body, self.signature, ack=ack, channel=options.channel, sensitive=lead > 0)
        if options.language and options.language != "en":
            text = _LANGUAGE_NOTE.format(language=options.language) + "\n\n" + text
        return Draft(text=text, citations=tuple(sorted(citations, key=lambda c: c.n)), mode=self.mode,
                     risk=DraftRisk(RiskAssessment("normal", (), ())), language=options.language,
                     timings={"draft": time.perf_counter() - start}, staff_only_sources=staff_only)

    def holding_reply(self, ticket: Ticket, options: DraftOptions, *, confidence: float, threshold: float) -> Draft:
        """The insufficient-guidance draft: a note to the specialist and an honest holding reply."""
        ack = acknowledgement(options.tone, as_turns(ticket), channel=options.channel)
        text = INSUFFICIENT_NOTE.format(confidence=confidence, threshold=threshold) + "\n\n" + _wrap(
            options.tone, [_HOLDING[options.tone]], self.signature, ack=ack, channel=options.channel)
        return Draft(text=text, citations=(), mode=self.mode, risk=DraftRisk(RiskAssessment("normal", (), ())),
                     insufficient_guidance=True, language=options.language, confidence=confidence)
