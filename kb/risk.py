"""Offline detection of high-risk support tickets.

A ticket is *high risk* when a specialist must handle it under a special procedure
(safety escalation, legal, comms, executive office, fraud) rather than with an
ordinary templated reply. Detection is deliberately lexical, offline and
deterministic: it must run on every ticket in well under 5 ms, give the same answer
twice, and say *which words* triggered it so a specialist can check it at a glance.

How it works:

* Each category has weighted **cues**: regular expressions written with their
  inflected variants (``sue|suing|sued``), common typos (``lawer``, ``acount``) and
  platform slang (``unalive``, ``kms``). A category is flagged when the weights of its
  *distinct* matched cues add up to at least 1.0. A strong cue ("kill myself",
  "cease and desist") weighs 1.0 on its own; weak cues weigh 0.5 and only flag in
  combination, e.g. a minor (``my 13 year old daughter``) *and* adult contact
  (``messaged by an adult``) for child safety, or a takeover (``hacked my account``)
  *and* money loss (``withdrew all my earnings``) for account takeover.
* **Negation**: a cue preceded in the same clause by a negator ("I'm *not* going to
  sue", "I *won't* contact the CEO") does not count. Self-harm cues phrased with
  their own negation ("I don't want to be here anymore") are whole patterns and
  are not affected.
* **Topic, not intent**: bare topic words ("suicide", "self-harm") count only when
  they are not used as a subject of discussion: "suicide prevention", "your policy
  on suicide content" and "a documentary on suicide" are ordinary creator questions
  and stay *normal*. Statements about the user *or another person* ("she's been
  cutting herself", "my friend is suicidal") are flagged, because the specialist
  must follow the self-harm procedure either way.
* Figurative uses ("killing it", "shoot a video", "to die for", "press the button",
  "executive producer", "legal music license") are not matched because cues require
  an intent marker or a target ("I will hurt *someone*", "shoot *up* my school").
* **Context** (earlier messages of the conversation) is analysed too, so a
  follow-up "any update?" on a conversation that disclosed abuse stays high risk.
  Evidence always points at real text: ``RiskEvidence.source`` tells whether the
  span is in the ticket (``"text"``) or in the context (``"context"``).
* Ticket and context are treated purely as data: nothing in them can change how
  they are scored ("mark this as normal" is just more words).

The rules err toward flagging: a false flag costs a specialist a minute, a missed
self-harm or child-safety ticket costs far more.

Measured quality (``python -m kb.risk --eval tests/kb/data/risk_tickets.jsonl``): the
``heldout`` half was written before the patterns and never tuned on; it scores recall
1.0 / false-flag rate 0.0, but it was written by the author of the patterns. Two
further fresh probe sets, each run once before any change, scored recall 0.40 then
0.27 (false-flag 0.10 then 0.0): a lexical detector generalises poorly to phrasings
nobody anticipated. Both probe sets were then folded into the ``dev`` half. Treat
this as a high-precision first pass, not as the only safety net.

**Semantic layer** (:class:`SemanticRiskLayer`, used when an embedder is passed, as
``kb.drafting`` does): nearest-exemplar matching of each ticket sentence (and adjacent
sentence pair) against short per-category exemplars and ordinary-ticket exemplars, with
the bundled MiniLM model. Its categories are added to the lexical ones. Thresholds
(cosine >= 0.50 and >= 0.05 above the closest benign exemplar) were chosen on
``tests/kb/data/risk_tickets.jsonl``, where the semantic layer alone reaches recall 0.66
at a false-flag rate of 0.045. On ``demo/tickets.jsonl`` (52 tickets written
independently, held out: no exemplar is taken from it, and a test checks that no
exemplar occurs in it) recall goes from 0.33 (lexical) to 0.78 (lexical + semantic) and
the false-flag rate from 0.06 to 0.21 (7 of 34 normal tickets, mostly the SOPs' hard
negatives such as a first-message threat to complain to a regulator). Later warning-sign
cues raised recall there to 1.0 (so the set is no longer clean held-out for self-harm), and
requiring a sign that someone else acted for a semantic financial takeover brought the
false-flag rate to 0.15 (5 of 34).

2026-12-01: messages written fresh in eleven rounds, each before the detector read it, showed it
still missing a quarter to half of the high-risk ones at first look (benchmarks/README.md,
"Fresh phrasings"). The layer now also compares with the labelled tickets of
:data:`LABELLED_EXAMPLES`; left out one round at a time, they raise its recall on that round
from 98 to 113 of 151 with fewer false flags (11 → 9 of 167). Self-harm, threats and child safety
are also read with a slightly eased threshold (:func:`threshold_pairs`).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from kb.blas import one_blas_thread
from kb.types import SetupError

RISK_CATEGORIES: tuple[str, ...] = (
    "self_harm",
    "violent_threat",
    "child_safety",
    "sexual_exploitation",
    "doxxing",
    "legal_threat",
    "regulator_request",
    "press_enquiry",
    "executive_escalation",
    "public_figure_impersonation",
    "account_takeover_financial",
)

CATEGORY_LABELS: dict[str, str] = {
    "self_harm": "Self-harm or suicide",
    "violent_threat": "Threat of violence",
    "child_safety": "Child safety (minor at risk)",
    "sexual_exploitation": "Sexual exploitation or non-consensual intimate imagery",
    "doxxing": "Doxxing (personal information exposed)",
    "legal_threat": "Legal threat or legal process",
    "regulator_request": "Regulator, government or law-enforcement request",
    "press_enquiry": "Press or media enquiry",
    "executive_escalation": "Executive escalation",
    "public_figure_impersonation": "Impersonation of a public figure",
    "account_takeover_financial": "Account takeover with financial loss",
}

#: Sum of distinct cue weights at which a category is flagged.
THRESHOLD = 1.0


@dataclass(frozen=True)
class RiskEvidence:
    """One matched phrase supporting a category.

    Attributes:
        category: Risk category the phrase supports.
        phrase: The matched text, exactly as written.
        start: Start offset of the phrase in its source string.
        end: End offset (exclusive) of the phrase in its source string.
        source: ``"text"`` for the ticket itself, ``"context"`` for earlier conversation.
    """

    category: str
    phrase: str
    start: int
    end: int
    source: str = "text"


@dataclass(frozen=True)
class RiskAssessment:
    """Result of :func:`assess_risk`.

    Attributes:
        level: ``"high"`` when at least one category is flagged, else ``"normal"``.
        categories: Flagged categories in :data:`RISK_CATEGORIES` order.
        evidence: Phrases that support the flagged categories.
    """

    level: str
    categories: tuple[str, ...]
    evidence: tuple[RiskEvidence, ...]

    @property
    def is_high(self) -> bool:
        """Whether the ticket needs the high-risk procedure."""
        return self.level == "high"

    def to_dict(self) -> dict:
        """JSON-ready form: ``{"level", "categories", "evidence": [{"category", "phrase"}]}``."""
        return {
            "level": self.level,
            "categories": list(self.categories),
            "evidence": [{"category": e.category, "phrase": e.phrase} for e in self.evidence],
        }


@dataclass(frozen=True)
class _Cue:
    category: str
    name: str
    weight: float
    pattern: re.Pattern[str]
    negatable: bool


# --------------------------------------------------------------------------- cue table
# Shared fragments. Text is lower-cased before matching, and curly apostrophes are
# straightened, so fragments are written in lower case with a plain "'".
_SELF = r"(?:myself|my ?self|herself|himself|themselves|themself|yourself)"
#: Things creators "kill" or "hurt" that are not people ("they will kill my channel with reports").
_NOT_A_PERSON = (
    r"(?!(?:channel|account|career|reputation|brand|business|page|profile|reach|views|engagement|numbers|stream|streams|"
    r"video|videos|content|vibe|mood|deal|campaign|sales|ratings?|ranking|rankings|algorithm|growth|income|chances|"
    r"feelings|pride|ego|record|score|team|game|server|vibes)\b)"
)
_WILL = (
    r"(?:will|'ll|ll|(?:(?<=\bhe)|(?<=\bshe)|(?<=\bthey))'d|wil|gonna|going to|goin to|want to|wanna|am going to|plan(?:ning)? to|"
    r"threaten(?:s|ed|ing)? to|said (?:he|she|they)(?:'ll| will| would)|would|coming to|come to)"
)
_MINOR = (
    r"(?:\b(?:[1-9]|1[0-7]) ?(?:-| )?(?:years?|yrs?|yo|y/o|y\.o\.?)(?:[ -]old)?\b"
    r"|\((?:[1-9]|1[0-7])\)|\b(?:aged|age) (?:[1-9]|1[0-7])\b"
    r"|\b(?:is|was|only|just|i'?m|i am|im) (?:[1-9]|1[0-7])\b(?! (?:minutes?|hours?|days?|weeks?|months?|percent|%|mins?|hrs?))"
    r"|\bminors?\b|\bunder ?age(?:d)?\b|\bkids?\b|\bchild(?:ren)?\b|\bpre-?teens?\b|\bteens?\b|\bteenagers?\b|\bteenage\b"
    r"|\b(?:young|little|underage) (?:girls?|boys?)\b"
    r"|\b(?:my|our|her|his) (?:little |younger |)(?:daughter|son|sister|brother|niece|nephew)\b"
    r"|\b(?:school ?(?:girls?|boys?|kids?))\b)"
)
# Verbs that put images in front of other people, every inflection spelled out ("share" +
# "ed" is not "shared").
_EXPOSE_VERB = (
    r"(?:shar(?:e|es|ed|ing)|post(?:s|ed|ing)?|leak(?:s|ed|ing)?|send(?:s|ing)?|sent|releas(?:e|es|ed|ing)|"
    r"upload(?:s|ed|ing)?|publish(?:es|ed|ing)?|expos(?:e|es|ed|ing)|forward(?:s|ed|ing)?|spread(?:s|ing)?)"
)
_MEDIA = r"(?:photos?|pics?|pictures?|images?|videos?|vids?|clips?|content|selfies)"
_SEXUAL_MEDIA = (
    rf"(?:nudes|(?:nude|naked|intimate|explicit|private|sexual|sex) {_MEDIA}|sex ?tapes?|"
    rf"(?:onlyfans|of|spicy|adult|18\+) {_MEDIA}|lewds)"
)
_OUTLETS = (
    r"(?:techcrunch|the verge|verge|bbc|cnn|nbc|abc news|cbs|fox news|sky news|reuters|bloomberg|"
    r"associated press|\bap\b|new york times|nyt|ny times|washington post|wapo|wall street journal|wsj|"
    r"the guardian|guardian|the times|financial times|\bft\b|wired|vice|buzzfeed|axios|politico|forbes|"
    r"business insider|insider|the information|platformer|404 media|npr|the atlantic|vox|mashable|"
    r"engadget|the telegraph|daily mail|der spiegel|le monde|el pa[ií]s|rolling stone|variety|"
    r"hollywood reporter|tmz|the independent|al jazeera|the economist|semafor|mother jones|huffpost)"
)
_REGULATORS = (
    r"(?:\bftc\b|federal trade commission|\bfcc\b|\bico\b|information commissioner|ofcom|"
    r"esafety(?: commissioner)?|data protection (?:commission|authority|authorities)|\bdpc\b|\bcnil\b|"
    r"supervisory authority|procon|attorneys? general|\bag'?s office|european commission|\bdsa\b coordinator|"
    r"digital services coordinator|\bcma\b|competition and markets authority|\bcfpb\b|consumer protection "
    r"(?:agency|authority|bureau|office)|trading standards|\bsec\b|ombudsman|regulator|\bnetzda\b|"
    r"\bbafin\b|\barcom\b|\bagcom\b|\bfbi\b|\bncmec\b|law enforcement|police department)"
)
_PUBLIC_FIGURE = (
    r"(?:celebrit(?:y|ies)|famous|well[- ]known|public figure|senator|congress(?:wo)?man|"
    r"congressperson|\bmp\b|member of parliament|prime minister|president|governor|mayor|minister|"
    r"politician|royal|king|queen|princess|prince|pope|\bactor|actress|singer|rapper|athlete|footballer|"
    r"verified (?:creator|account|star)|(?:big|huge|popular|top) (?:creator|youtuber|streamer|influencer)|"
    r"taylor swift|mr ?beast|elon musk|kim kardashian|beyonc[eé]|drake|cristiano ronaldo|ronaldo|messi|"
    r"selena gomez|justin bieber|ariana grande|rihanna|bad bunny|billie eilish|the rock|"
    r"charli d'?amelio|khaby lame|addison rae|bella poarch|pewdiepie|kylie jenner|oprah|bill gates|"
    r"mark zuckerberg|jeff bezos|donald trump|joe biden|obama|king charles|keir starmer|narendra modi)"
)
#: A public-figure word as a whole word (also plural): "asking" must not name a king.
_PUBLIC_FIGURE_WORD = rf"\b{_PUBLIC_FIGURE}(?:e?s)?\b"
_EXEC = (
    r"(?:ceo|c\.e\.o\.?|chief executive|chief (?:\w+ ){1,2}officer|\bcoo\b|\bcfo\b|\bcto\b|\bcmo\b|founders?|co-?founders?|(?:the )?board(?: of directors)?|"
    r"executive team|exec team|executives|leadership team|c-suite|(?:senior )?vice president|\bvp\b|"
    r"\bsvp\b|\bevp\b|head of [a-z]+|president|chairman|chairwoman|chair)"
)
_MONEY_LOSS = (
    r"(?:drain(?:ed|ing)?|withdr[ea]w(?:n|s|ing)?|cash(?:ed)? out|stole|stolen|steal(?:ing)?|"
    r"took|taken|transferr?(?:ed|ing)|spent|bought|purchased|charged|emptied|wiped)"
)
_MONEY_OBJ = (
    r"(?:balance|earnings|payouts?|funds|money|wallet|coins|gift ?cards?|saved card|credit card|"
    r"card|bank (?:account|details|info)|payout (?:method|details|account|bank details)|revenue|"
    r"creator fund|\$ ?\d[\d,.]*|\d[\d,.]* ?(?:dollars|usd|euros?|eur|pounds|gbp|rupees))"
)

# (category, name, weight, regex, negatable)
_CUE_SPECS: tuple[tuple[str, str, float, str, bool], ...] = (
    # ---- self_harm ---------------------------------------------------------------
    ("self_harm", "kill_self", 1.0,
     rf"\b(?:kill(?:ing|ed|s)?|kil|hurt(?:ing|s)?|harm(?:ing|ed|s)?|cut(?:ting|s)?|unalive|end(?:ing)?) {_SELF}\b", True),
    ("self_harm", "unalive", 1.0, r"\bunaliv(?:e|ing)\b|\bkms\b|\bsewer ?slide\b|\bsu[i1]c[i1]d(?:e|al)?ing\b", False),
    ("self_harm", "suicidal_person", 1.0,
     r"\b(?:i'?m|i am|im|feel(?:ing)?|is|was|been|she'?s|he'?s|they'?re|getting|so|very|really|feeling) "
     r"(?:so |very |really |kinda |a bit |pretty )?su[i1]c[i1]?d(?:al|le)\b", True),
    ("self_harm", "suicide_act", 1.0,
     r"\b(?:commit(?:ting)?|attempt(?:ed|ing)?|thinking (?:about|of)|thoughts of|consider(?:ing)?|plan(?:ning)?|"
     r"going to|gonna|want to|talk(?:ing|ed|s)? about|threaten(?:ing|ed|s)? (?:to commit)?) "
     r"(?:committing )?su[i1]c[i1]?de\b(?! (?:prevention|awareness|hotline|helpline|policy|content|guidelines|rules|topics?|videos?|documentary|statistics|rates?))",
     True),
    ("self_harm", "end_life", 1.0,
     r"\b(?:end|ending|take|taking) (?:my|her|his|their|our) (?:own )?li(?:fe|ves)\b"
     r"|\b(?:end|ending) it(?: all)?\b(?! (?:with|between|for the day|early|here|now))"
     r"|\bwant (?:it )?(?:all )?to end\b|\b(?:want(?:s|ed)? to|wanna) die\b(?! (?:of|from|laughing|lol|lmao))|\bwish (?:i|she|he) (?:was|were) dead\b"
     r"|\bbetter off dead\b|\bbetter (?:off )?without me\b"
     # Standard warning-sign phrasings (suicide-risk screening questions ask about these).
     r"|\b(?:go to )?sleep and (?:never|not) wake up\b"
     r"|\b(?:everyone|everybody|people|they|the world|my family) (?:would be|'d be|will be|would all be) (?:so )?(?:happier|better off) without (?:me|him|her)\b"
     r"|\b(?:feel|feels|felt|feeling) like (?:such )?(?:a |an )?(?:huge |total |big )?burden\b"
     r"|\b(?:i'?m|i am|she'?s|she is|he'?s|he is) (?:just |such )?(?:a |an )?(?:huge |total |big )?burden\b", False),
    ("self_harm", "not_be_here", 1.0,
     r"\b(?:don'?t|do not|dont) want to (?:be here|be alive|live|exist)(?: anymore| any more)?\b"
     r"|\b(?:won'?t|will not|wont|not going to|not gonna) be (?:around|here|alive)(?: much)? (?:much )?(?:longer|anymore|tomorrow|to see|"
     r"next (?:week|month|year)|by then|for long|after (?:tonight|today|this week))\b"
     r"|\b(?:already )?(?:said|saying|say|written|wrote|writing) (?:my )?goodbyes? (?:to|for) (?:everyone|everybody|my (?:family|mom|mum|dad|"
     r"sister|brother|parents|kids|children|wife|husband|partner|friends|best friend))\b"
     r"|\b(?:no reason|what'?s the point|whats the point|no point|the point) (?:to|of|in) (?:living|live|life|being alive|going on|keep going|waking up)\b|\bcan'?t (?:go on|do this) anymore\b"
     r"|\b(?:can'?t|cannot|don'?t think i can|do not think i can) (?:keep going|go on|hold on)(?: much| any)? (?:longer|anymore|any more)\b"
     r"|\b(?:nobody|no ?one) would (?:even )?(?:notice|care|miss me) if i (?:was|were|died|disappeared|wasn'?t (?:here|around|alive)|"
     r"weren'?t (?:here|around|alive)|was gone|were gone|didn'?t wake up)\b"
     r"|\bwish(?:es|ed)? (?:i|he|she|they) (?:was|were|had) never (?:been )?born\b|\b(?:talk\w* about|thinking about|think about|want to|going to|gonna|wanna) end(?:ing)? (?:things|it all)\b"
     r"|\b(?:saving|saved|stockpil\w+|hoard\w+) (?:up )?(?:my |her |his )?(?:meds|pills|medication|tablets)\b"
     r"|\bsaying goodbye to everyone\b|\bgoodbye (?:note|letter|video)\b|\bsuicide (?:note|letter)\b"
     r"|\b(?:wrote|written|writing|left|leaving) my (?:final |last |goodbye )?(?:note|letters?)\b(?! (?:of|to|about|for|on|in)\b)"
     r"|\b(?:i'?m|i am|im) ending (?:things|it all)\b(?! with\b)"
     r"|\b(?:don'?t|do not|dont|can'?t|cannot) see myself (?:being )?(?:around|here|alive)\b", False),
    ("self_harm", "method", 1.0,
     r"\b(?:easiest|quickest|fastest|painless|best|easy|quick) (?:way|ways|method|methods) to (?:die|kill (?:my|your)self|end (?:it|my life))\b"
     r"|\bhow (?:to|do i|can i) (?:kill (?:my ?self|yourself)|end my life|die painlessly|commit suicide)\b"
     r"|\bswallow(?:ed|ing)? (?:everything|all the pills|all (?:of )?(?:my|her|his|the) (?:pills|meds|tablets)) "
     r"(?:in|from) (?:the|my|her|his) (?:medicine )?(?:cabinet|cupboard|drawer)\b"
     r"|\b(?:going to|gonna|will|'ll) swallow everything\b"
     r"|\b(?:take|taking|took|swallow(?:ed|ing)?|overdos(?:e|ed|ing)(?: on)?) (?:all )?(?:of )?(?:my|the|her|his) "
     r"(?:pills|meds|medication|tablets|sleeping pills)\b|\boverdos(?:e|ed|ing)\b|\bjump(?:ing)? off (?:a|the|my) "
     # Standard warning-sign phrasing: an amount of medication taken at once.
     r"(?:bridge|roof|building)\b|\b(?:took|taken|swallowed|swallowing|taking) (?:a |the |all the |so many |too many )?"
     r"(?:whole |entire |full )?(?:bottle|box|packet|pack|handful|lot|bunch|load)s? of (?:\S+ ){0,2}(?:pills|tablets|meds|medication|"
     r"painkillers|paracetamol|tylenol|sleeping pills)\b|\b(?:took|swallowed) too many (?:pills|tablets|meds)\b|\bjump(?:ing)? off (?:a|the|my) "
     r"(?:bridge|roof|building)\b|\bself[- ]?harm(?:ing|ed)?\b(?! (?:prevention|awareness|policy|content|guidelines|rules|topics?|videos?))",
     True),
    ("self_harm", "noose", 1.0, r"\bnoose\b|\bhang (?:my ?self|herself|himself)\b", True),
    ("self_harm", "rope", 0.5, r"\b(?:have|got|bought|found|tied|tying|keep) (?:a |the |some )?rope\b", True),
    ("self_harm", "hopeless", 0.5,
     r"\b(?:hopeless|worthless|no way out|give up on everything|can'?t take it anymore|nothing left to live for|"
     r"(?:so )?tired of (?:everything|living|life|it all|being alive))\b"
     r"|\b(?:what'?s|whats|what is) the point(?: of (?:anything|it all|trying))? any ?more\b", True),
    # Weak alone (a creator may simply quit); with a hopelessness cue it is a farewell.
    ("self_harm", "final_post", 0.5,
     r"\b(?:this|it) (?:will|'?ll|is going to|gonna) be my (?:very )?last (?:video|post|stream|live|upload|message)\b"
     r"|\bmy (?:very )?last (?:video|post|stream|message) ever\b"
     r"|\b(?:post(?:ed|ing)?|live ?stream(?:ed|ing)?|went live|video|message|story|note|wrote|texted) (?:\w+ ){0,3}(?:saying|said|say) goodbye\b", True),
    # Warning signs that add up: giving things away, apologising for everything, a farewell,
    # and then nobody can reach the person.
    ("self_harm", "gives_away", 0.5,
     r"\bg(?:ive|ives|iving|ave|iven) away (?:all )?(?:of )?(?:my|her|his|their) (?:stuff|things|belongings|possessions|pets?|"
     r"games|clothes|accounts?|cats?|dogs?|guitar|collection)\b|\bg(?:ive|ives|iving|ave|iven) away everything\b", True),
    ("self_harm", "high_place", 0.5,
     r"\b(?:on|from|at) (?:a|the|top of (?:a|the)) (?:roof|rooftop|ledge|edge of (?:a|the) (?:roof|bridge|cliff)|bridge|cliff)\b", True),
    ("self_harm", "the_end", 0.5,
     r"\b(?:this is|it'?s) the end\b|\bwon'?t be (?:posting|streaming|uploading|here) (?:again|anymore|any more)\b", True),
    ("self_harm", "wont_need", 0.5,
     r"\b(?:won'?t|will not|wont) (?:be needing|need) (?:my|her|his|their|it|them|this|these|any of (?:it|this)|anything)"
     r"(?: \w+)? (?:after (?:tonight|today|this week|tomorrow)|anymore|any more|where i'?m going)\b", True),
    ("self_harm", "has_a_plan", 0.5,
     r"\b(?:i|she|he) (?:have|has|had|made|make) (?:a|the) plan\b(?! (?:for|to (?:grow|post|launch)))", True),
    ("self_harm", "care_for_dependants", 0.5,
     r"\b(?:look|looking|take|taking) (?:after|care of) (?:my|her|his) (?:dogs?|cats?|pets?|kids|children|plants)\b", True),
    ("self_harm", "sorry_for_everything", 0.5,
     r"\b(?:sorry|apologi[sz](?:e|es|ed|ing)) (?:to (?:everyone|everybody) )?for everything\b", True),
    ("self_harm", "unreachable", 0.5,
     r"\b(?:she|he)(?:'s| is)? (?:won'?t|will not|isn'?t|is not|not|doesn'?t|does not|hasn'?t|has not) (?:been )?"
     r"(?:answer(?:ing)?|respond(?:ing)?|repl(?:y|ying)|pick(?:ing)? up)\b"
     r"|\b(?:no ?one|nobody) can (?:reach|contact|find) (?:her|him)\b"
     r"|\b(?:we|i|they|anyone) (?:can'?t|cannot|couldn'?t|could not) (?:reach|contact|find|get hold of) (?:her|him)\b", True),
    # ---- violent_threat ---------------------------------------------------------
    ("violent_threat", "will_harm", 1.0,
     rf"\b{_WILL} (?:\w+ ){{0,2}}(?:kill|murder|stab|shoot|hurt|beat up|beat the \w+ out of|attack|strangle|burn down|burn|torch|set fire to|bomb|blow up|"
     r"throw acid (?:on|at|in the face of)|pour acid (?:on|over)) "
     rf"(?:you|u|me|us|him|her|them|someone|somebody|everyone|every1|people|(?:your|my|his|the) {_NOT_A_PERSON}\w+|whoever)\b",
     True),
    ("violent_threat", "get_hurt", 0.5,
     r"\b(?:people|someone|somebody|some1|you|your staff|everyone) (?:will|are going to|is going to|gonna|'?s gonna|'?re gonna|'ll) "
     r"(?:get|be) (?:hurt|killed|injured)\b", True),
    ("violent_threat", "bring_security", 0.5,
     r"\b(?:better|should|might want to) (?:have|get|hire|bring) (?:\w+ )?(?:security|guards|bodyguards|police)\b"
     r"|\bi'?ll be (?:there|waiting)\b|\bi will be (?:there|waiting)\b", True),
    ("violent_threat", "break_face", 1.0,
     r"\bbreak (?:his|her|your|their|ur|some(?:one|body)'?s?) (?:face|legs?|arms?|neck|jaw|nose|skull|bones?|teeth)\b", True),
    ("violent_threat", "see_what_happens", 0.5, r"\b(?:you'?ll|you will|u'?ll|then you'?ll) see what happens\b", True),
    ("violent_threat", "slit_throat", 1.0, r"\b(?:slit|cut|slash)(?:s|ting)? (?:\w+ )?throats?\b", True),
    ("violent_threat", "weapon_to_event", 1.0,
     r"\b(?:bring|bringing|brought|take|taking|carry|carrying)(?:s)? (?:my |a |his |her |our |the )?(?:\w+'?s? )?"
     r"(?:rifle|gun|guns|pistol|shotgun|knife|knives|machete|ar-?15|ak-?47|weapon|weapons|bomb|explosives?) "
     r"(?:to|into|at) (?:the |a |your |our |this )?(?:\w+ )?(?:meet ?-?up|event|office|hq|school|concert|convention|con|stream|"
     r"signing|party|festival|mall|building)\b", True),
    ("violent_threat", "coming_to_them", 0.5, r"\b(?:get|gets|getting) what'?s coming (?:to (?:him|her|them|you))?\b", True),
    ("violent_threat", "found_where", 0.5, r"\bfound (?:his|her|their|your|ur) (?:address|house|home|place|school|work)\b", True),
    ("violent_threat", "acid_or_backs", 1.0,
     r"\b(?:acid attack|(?:throw|threw|throwing|pour|poured|pouring) acid)\b|\bwatch (?:your|their|his|her|ur) backs?\b", True),
    ("violent_threat", "shoot_up", 1.0,
     r"\b(?:shoot(?:ing)?|shot) up (?:a |the |my |our |your |this )?(?:school|office|hq|headquarters|building|mall|church|"
     r"mosque|synagogue|event|concert|place|club|party|class|meet ?-?up|convention|con|festival|stream|signing)\b", True),
    ("violent_threat", "death_threat", 1.0,
     r"\bdeath threats?\b|\bthreat(?:s|en(?:ed|ing|s)?)? to (?:kill|murder|stab|shoot|hurt|rape)\b"
     r"(?! (?:him|her|them|my|your|it)sel(?:f|ves)\b)|\bbomb threat\b", True),
    ("violent_threat", "threatened_life", 1.0,
     r"\bthreat(?:en(?:ed|ing|s)?)? (?:my|his|her|their|your|our) li(?:fe|ves)\b"
     r"|\bthreats? (?:to|against|on) (?:my|his|her|their|your|our) li(?:fe|ves)\b", True),
    ("violent_threat", "family_harm", 1.0,
     rf"\b{_WILL} (?:\w+ )?(?:beat|hurt|kill|harm|attack|take) (?:my|your|his|her|their) "
     r"(?:kids?|children|son|daughter|wife|husband|partner|family|mum|mom|dad|parents?|baby)\b", True),
    ("violent_threat", "wont_live", 0.5,
     r"\b(?:won'?t|will not|wont|not gonna|never gonna|aren'?t gonna|isn'?t gonna) live "
     r"(?:to see|till|until|past)\b", True),
    ("violent_threat", "threatening_me", 0.5,
     r"\bthreat(?:en(?:ed|ing|s)?) (?:me|us|my (?:family|kids?|children|son|daughter|wife|husband|partner))\b"
     r"|\bthreatening (?:messages|comments|dms|calls|texts)\b", True),
    ("violent_threat", "fears_for_safety", 1.0,
     r"\b(?:fear|fearing|afraid|scared|worried) for (?:my|our|his|her|their|my family'?s?|my kids'?) (?:life|lives|safety)\b"
     r"|\b(?:don'?t|do not) feel safe (?:at|in|leaving|going)\b", True),
    ("violent_threat", "is_scared", 0.5,
     r"\b(?:i'?m|i am|we'?re|we are|i feel|i'?m feeling) (?:so |really |very |genuinely |honestly |actually |kinda )?"
     r"(?:scared|afraid|terrified|frightened)\b", True),
    ("violent_threat", "coming_for", 0.5,
     r"\b(?:coming|come|gonna come|going to come) (?:after|for) (?:me|you|u|us|him|her|them|my family|your family|"
     r"my kids|your kids)\b", True),
    # The harm named a few words on, after another step ("threatening to find where I live and
    # hurt me"): only with a person as its object, so "threatened to hurt my channel" stays out.
    ("violent_threat", "threatened_harm_later", 1.0,
     r"\bthreat(?:en(?:ed|ing|s)?) to (?:\w+ ){1,8}?(?:and |then )?(?:kill|murder|stab|shoot|hurt|rape|attack|beat up|"
     r"strangle) (?:me|him|her|them|us|you|my (?:family|kids?|children|son|daughter|wife|husband|partner|mum|mom|dad|"
     r"parents?|sister|brother))\b", True),
    ("violent_threat", "know_where_live", 1.0,
     r"\bi know where (?:you|u|they|he|she) (?:live|work|sleep|park)s?\b|\bi know (?:what|which) (?:car|school|gym) (?:you|u|he|she|they) (?:drive|go|goe|attend)s?\b|\bwatch your back\b|\byou(?:'re| are) (?:dead|gonna die)\b"
     r"|\byou(?:'ll| will) be sorry\b", True),
    ("violent_threat", "hunt_down", 1.0,
     r"\b(?:hunt(?:ing)?|track(?:ing)?) (?:you|u|him|her|them|the \w+|your \w+) down\b|\bhunt (?:you|u|him|her|them)\b|\bhunt(?:ing)? down (?:you|u|him|her|them|the \w+|your \w+|every)\b"
     r"|\b(?:bring|bringing|brings|bringin) (?:a|my|his|her|their) (?:gun|knife|rifle|weapon|machete|bomb) to\b", True),
    ("violent_threat", "weapon", 0.5,
     r"\bwith (?:a|my) (?:gun|knife|rifle|bat|weapon|machete)\b|\b(?:bring|bringing) (?:a|my) (?:gun|knife|weapon)\b", True),
    ("violent_threat", "come_to", 0.5,
     r"\b(?:come|coming|show up|showing up|turn up|go|going) (?:to|at|down to) (?:your|the) (?:\w+ )?(?:hq|office|offices|headquarters|house|home|building)\b"
     r"|\bi know (?:exactly )?where (?:it|your office|the office|you guys) (?:is|are)\b"
     r"|\bfind where (?:your|you) (?:office|live|work|hq)\b|\bwhere your office is\b", True),
    ("violent_threat", "pay_regret", 0.5,
     r"\b(?:you(?:'ll| will)|you all|y'?all|gonna|going to) (?:all )?(?:pay for (?:this|it)|regret (?:this|it)|make you (?:regret|pay))\b"
     r"|\bmake you (?:regret|pay)\b|\bpay for (?:this|it)\b"
     r"|\bmake (?:you all|y'?all|them|everyone|every ?one of you|the (?:whole |entire )?\w+(?: team)?) (?:pay|regret|suffer)\b", True),
    ("violent_threat", "nothing_to_lose", 0.5, r"\b(?:i'?ve|i have|i've got|got) nothing (?:left )?to lose\b", True),
    # ---- child_safety -----------------------------------------------------------
    ("child_safety", "csam", 1.0,
     r"\b(?:csam|cp|child porn(?:ography)?|child sexual abuse|child abuse|abused child|groom(?:ing|ed|er|s)?|pedo(?:phile)?s?|"
     r"paedo(?:phile)?s?|predator(?:s)?|child (?:being )?(?:abused|exploited|molested)|molest(?:ed|ing|er)?|"
     r"sexuali[sz](?:ed|ing) (?:a |the )?(?:minor|child|kid))\b", True),
    ("child_safety", "child_abused", 1.0,
     r"\b(?:child|kid|minor|girl|boy|toddler|baby) (?:being |getting |was |is )?(?:abused|hurt|beaten|molested|exploited|trafficked)\b", True),
    ("child_safety", "trading_minors", 1.0,
     r"\b(?:trad|shar|sell|collect|swap|post)(?:e|es|ed|ing)? (?:\w+ )?(?:pics|pictures|photos|videos|images|content|nudes) of (?:young |little |underage |small )?"
     r"(?:kids|children|minors|girls|boys|teens|toddlers)\b", True),
    ("child_safety", "minor", 0.5, _MINOR, False),
    ("child_safety", "adult_contact", 0.5,
     r"\b(?:grown (?:man|woman|men|adult)|older (?:man|men|guy)|(?:an |some )?adults?(?: (?:user|man|guy))?|stranger)\b"
     r"|\bmessag(?:ed|ing|es) (?:her|him|them)\b|\b(?:asking|asked|asks|ask) (?:\w+ ){0,5}(?:for (?:pictures|pics|photos|nudes|selfies)|to (?:dm|meet|send|keep it secret|video ?call))\b"
     r"|\bkeep (?:it|this) (?:a )?secret\b|\bdm him\b|\bdm her\b|\bmeet (?:up|him|her) (?:in person|irl|alone)\b"
     r"|\boffered (?:him|her|them) (?:gift ?cards|money|coins|gifts)\b"
     r"|\b(?:offer|promis|pay)(?:s|es|ed|ing)? (?:\w+ ){0,3}(?:gift ?cards|money|cash|coins|gifts|robux|followers) (?:to|for|if)\b"
     r"|\bcreeps?\b|\bcreepy (?:man|guy|adult|dude)\b"
     r"|\basking (?:her|him|them)?\s?(?:where (?:she|he|they) (?:lives?|goes? to school)|for (?:her|his|their) (?:address|location|school))\b|\bsnap(?:chat)?\b|\bsend (?:her|him) (?:pics|photos|nudes)\b", True),
    ("child_safety", "adult_age", 0.5,
     r"\b(?:[2-9]\d|1[89]) ?(?:-| )?(?:years?|yrs?)[ -]old\b|\b(?:[2-9]\d|1[89]) ?(?:yo|y/o)\b"
     r"|\bin (?:his|her|their) (?:[2-9]0s|twenties|thirties|forties|fifties)\b", True),
    ("child_safety", "minor_exposed", 0.5,
     r"\b(?:in the bath|bath ?time|in (?:the|a) shower|undress\w*|naked|in (?:their|her|his) underwear|no clothes|"
     r"(?:weird|creepy|sexual|gross|inappropriate|pervy|dirty) (?:comments?|messages?|dms?)|"
     r"(?:commenting|saying|writing|messaging) (?:\w+ )?(?:weird|creepy|sexual|gross|inappropriate|pervy|dirty) (?:stuff|things))\b", True),
    ("child_safety", "lying_age", 0.5,
     r"\b(?:lies|lying|lied|pretends?|pretending) (?:that |about )?(?:she'?s|he'?s|they'?re|being|her age|his age)\b", True),
    # ---- sexual_exploitation ----------------------------------------------------
    ("sexual_exploitation", "sextortion", 1.0,
     rf"\b{_EXPOSE_VERB} (?:my|our|her|his) {_SEXUAL_MEDIA}\b"
     r"|\bsextort(?:ion|ing|ed)?\b|\brevenge porn\b", True),
    ("sexual_exploitation", "ncii", 1.0,
     r"\b(?:intimate|nude|naked|explicit|sexual|private) (?:photos?|pics?|images?|videos?|content|pictures?) (?:of (?:me|her|him|my \w+) )?"
     r"(?:without (?:my|her|his|their) (?:consent|permission)|that i (?:never|didn'?t) (?:share|consent))\b"
     r"|\bdeep ?fake (?:porn|nudes?|sex)\b|\b(?:porn|nudes?|sex tape) of (?:me|her|him)\b|\bnon-?consensual\b"
     r"|\b(?:my|her|his) face (?:on|onto|into|in) (?:a |an |some )?(?:porn|nudes?|naked|explicit|sex)", True),
    ("sexual_exploitation", "blackmail_media", 1.0,
     r"\b(?:blackmail|extort|threaten)(?:s|ed|ing)? (?:me|her|him|us|them) (?:with|over|using) (?:my |our |her |his |some )?"
     r"(?:private|intimate|nude|naked|explicit|sexual|personal) (?:pictures|pics|photos|images|videos|content)\b"
     r"|\b(?:recorded|filmed) (?:us|me|her|him) (?:\w+ ){0,3}without (?:my |our |her |his |their )?(?:consent|permission|knowing)\b"
     r"|\b(?:porn|adult|xxx|onlyfans) (?:site|website|page|account)\b", True),
    ("sexual_exploitation", "selling_explicit", 1.0,
     r"\b(?:sell(?:s|ing)?|trad(?:e|es|ing)|shar(?:e|es|ing)) (?:explicit|nude|sexual|naked) (?:pics|pictures|photos|images|videos|content)\b"
     r"|\btrafficking\b|\bsex work(?:er)? (?:ads?|solicitation)\b", True),
    ("sexual_exploitation", "shared_without_consent", 1.0,
     rf"\b(?:my|our|her|his) {_SEXUAL_MEDIA} "
     r"(?:are|were|is|was|got|have been|has been|keep getting|keeps getting)? ?(?:being )?"
     r"(?:shared|posted|leaked|sent|spread|uploaded|sold|going around|circulating|passed around)\b", True),
    ("sexual_exploitation", "voyeurism", 1.0,
     r"\b(?:upskirts?|downblouse|creep ?shots?|voyeur(?:ism|istic)?|peeping)\b"
     r"|\b(?:hidden|secret|spy) ?cam(?:era)?s? (?:\w+ ){0,3}(?:changing|locker|dressing|bath) ?rooms?\b"
     r"|\b(?:changing|locker|dressing|bath) ?rooms? (?:\w+ ){0,3}(?:hidden|secret|spy) ?cam(?:era)?s?\b", True),
    ("sexual_exploitation", "solicits_images", 1.0,
     r"\b(?:ask|asks|asked|asking|pressur\w+|pushing|push|begging|beg|demand\w*) (?:\w+ ){0,3}(?:for|to send) (?:\w+ )?"
     r"(?:topless|nude|naked|explicit|sexy|lingerie|underwear|bikini) (?:photos?|pics?|pictures?|videos?|selfies?|content)\b", True),
    ("sexual_exploitation", "nudes", 0.5,
     rf"\b(?:{_SEXUAL_MEDIA}|porn|naked|undress(?:ed|ing)?|(?:in|from) (?:my|our|her|his)? ?bed|having sex)\b", True),
    ("sexual_exploitation", "pay_or", 0.5,
     r"\b(?:unless (?:i|we) (?:pay|send)|if (?:i|we) (?:don'?t|dont|do not) (?:pay|send)|pay (?:them|him|her)|send more money|"
     r"wants? (?:\$ ?\d[\d,.]*|money|cash|payment)|(?:asking|asks|asked|demand(?:s|ed|ing)?) (?:me )?for (?:money|cash|payment)|"
     r"(?:asking|asks|asked|demand(?:s|ed|ing)?) (?:\$ ?\d[\d,.]*))\b", True),
    ("sexual_exploitation", "no_consent", 0.5,
     r"\bwithout (?:my|her|his|their|our) (?:consent|permission|knowledge)\b|\bwithout (?:asking|telling) (?:me|her|him|us|them)\b"
     r"|\bwithout (?:me|her|him|us|them) knowing\b|\b(?:never|didn'?t|did not) (?:agree|agreed|consent|consented)\b", True),
    ("sexual_exploitation", "expose_threat", 0.5,
     rf"\b(?:{_EXPOSE_VERB}|show(?:s|ed|n|ing)?) (?:\w+ ){{0,4}}(?:to |with )?(?:everyone|everybody|the internet|"
     r"(?:my|all my) (?:family|parents|mom|mum|dad|friends|followers|school|classmates|boss|coworkers|colleagues|employer|work))\b", True),
    # ---- doxxing ----------------------------------------------------------------
    ("doxxing", "dox", 1.0, r"\bdox+(?:ed|ing|es|x?ed|x?ing)?\b", True),
    ("doxxing", "exposed_info", 1.0,
     r"\b(?:post(?:ed|ing|s)?|leak(?:ed|ing|s)?|shar(?:ed|ing|es)|publish(?:ed|ing|es)?|reveal(?:ed|ing|s)?|"
     r"expos(?:ed|ing|es)|spread(?:ing|s)?|put|puts|putting|broadcast(?:ed)?|tweet(?:ed)?) "
     r"(?:out )?(?:my|her|his|our|their|my (?:mom|dad|mum|family|daughter|son|kids?|child|children|sister|brother|wife|husband|partner)'?s?) "
     r"(?:(?:home|house|real|full|personal|private|current|work|exact|legal|new|old) )?"
     r"(?:address|phone ?number|number|location|real name|full name|identity|workplace|work address|school|"
     r"ssn|social security|ip address|family'?s? (?:address|names)|licen[sc]e plates?|number plates?|plate number|"
     r"daily routine|schedule)\b"
     r"(?! (?:change|changes|update|updates|field|label|bar|book|line|details|verification|form|settings))", True),
    ("doxxing", "info_was_exposed", 1.0,
     r"\b(?:my|her|his|our|their) (?:(?:home|house|real|full|personal|private|work|exact) )?"
     r"(?:address|phone ?number|location|real name|identity|workplace|school) (?:was|is|got|has been|have been|been|were) "
     r"(?:posted|leaked|shared|published|revealed|exposed|spread|doxx?ed|put (?:up|online|out))\b", True),
    ("doxxing", "posted_home", 1.0,
     r"\b(?:post(?:ed|ing|s)?|shar(?:ed|ing|es)|leak(?:ed|ing)?|publish(?:ed|ing)?) (?:\w+ ){0,3}(?:of|showing) "
     r"(?:my|our|her|his|their|my (?:parents|family)'?s?|my parents'?) (?:house|home|front door|street|car|kids'? school)\b"
     r"|\bwith (?:the|my|our) (?:street name|house number|postcode|zip code)\b|\bfound (?:my|our|her|his) (?:parents'? |family'?s? )?(?:house|home|address)\b", True),
    ("doxxing", "go_find", 0.5,
     r"\b(?:telling|told|asking|encouraging) (?:people|everyone|his followers|her followers|followers) to "
     r"(?:go )?(?:find|visit|show up at|call|harass)\b|\bpeople are (?:calling|showing up|coming to)\b", True),
    ("doxxing", "where_live", 0.5, r"\b(?:the street i live on|where i live|my (?:home|house) address|my address)\b", False),
    # ---- legal_threat -----------------------------------------------------------
    ("legal_threat", "lawyer_contact", 1.0,
     r"\b(?:my|our) (?:lawyers?|lawer|laywer|lawyr|attorneys?|attorny|solicitors?|legal (?:team|counsel|department|rep)|counsel)"
     r"(?:'s)? (?:will|'ll|ll|is going to|are going to|is|are|has been|have been|wil) "
     r"(?:be )?(?:in touch|contact(?:ing)?|reach(?:ing)? out|sue|suing|file|filing|send|sending|prepar\w+|draft\w+|look\w* into|review\w*|involved)\b"
     r"|\b(?:hear|hearing) from (?:my|our) (?:lawyers?|lawer|attorneys?|solicitors?|legal team|counsel)\b"
     r"|\b(?:our|my) (?:attorneys|lawyers|solicitors) are preparing\b|\b(?:contact(?:ed|ing)?|call(?:ed|ing)?|retain(?:ed|ing)?|hire[ds]?|hiring|consult(?:ed|ing)?) "
     r"(?:a|my|our) (?:lawyer|attorney|solicitor)\b", True),
    ("legal_threat", "sue", 1.0,
     r"\b(?:sue|suing|sued|sues)\b(?! (?:me|us|nobody|no ?one|anyone|anybody)\b)|\blaw ?suit\b|\btake (?:you|u|this|them) to court\b|\bsee you in court\b", True),
    ("legal_threat", "legal_action", 1.0,
     r"\blegal (?:action|proceedings|claim|remedies)\b|\bcease (?:and|&) desist\b|\bclass action\b|\blitigation\b"
     r"|\blegal hold\b|\bsmall claims\b|\bletter before (?:action|claim)\b|\bpre-?action\b|\bdefamation (?:claim|suit)\b"
     r"|\bformal legal (?:notice|complaint)\b|\bdmca (?:lawsuit|litigation)\b", True),
    ("legal_threat", "lawyers_involved", 1.0,
     r"\b(?:get|getting|got|bring|bringing) (?:my |the |our )?(?:attorneys?|lawyers?|solicitors?|legal (?:team|counsel)|lawer) involved\b"
     r"|\b(?:my|our) legal (?:representatives?|rep)\b|\b(?:file|filing|issue|issuing|start|starting) (?:legal |court )?proceedings\b"
     r"|\binstructed to (?:file|sue|act|proceed)\b|\bretain(?:ed|ing)? (?:legal )?(?:counsel|a lawyer|an attorney|a solicitor)\b"
     r"|\bletter to your legal (?:department|team)\b|\bfinal warning before (?:legal|i|we|court)\b"
     r"|\b(?:file|filing|bring|bringing) (?:a )?suit\b|\b(?:our|this) (?:law )?firm represents\b"
     r"|\bintend(?:s)? to (?:sue|file|pursue legal|take legal|commence)\b", True),
    ("legal_threat", "lawyer_acting", 1.0,
     r"\b(?:i'?m|i am|we are|we'?re|writing as) (?:a |the |an )?(?:solicitors?|attorneys?|lawyers?|barristers?|counsel|law firm)"
     r"(?: (?:acting|writing|working))? (?:for|on behalf of|representing)\b", True),
    ("legal_threat", "formal_notice", 0.5, r"\bformal notice\b|\bon behalf of (?:my|our) client\b|\bcounsel for\b|\bpreserve (?:all )?(?:records|evidence|data)\b", True),
    # ---- regulator_request ------------------------------------------------------
    ("regulator_request", "regulator", 0.6, _REGULATORS, False),
    ("regulator_request", "complaint_to", 1.0,
     rf"\b(?:filed|file|filing|lodged|lodge|submitted|made|make|report(?:ed|ing)?) (?:a |an )?(?:formal )?(?:complaint|report|you|this|it) "
     rf"(?:with|to) (?:the )?{_REGULATORS}", True),
    ("regulator_request", "official_request", 0.5,
     r"\b(?:information|data|records?|disclosure|preservation|production) request\b|\brequest(?:ing)? (?:information|records|data|details)\b"
     r"|\brequire (?:the )?(?:information|records|documents|details)\b|\bassessing (?:your |the platform'?s )?compliance\b"
     r"|\b(?:we|i) (?:need|require|request|are requesting|would like) (?:\w+ ){0,2}(?:information|records|documents|details) "
     r"(?:on|about|regarding|concerning)\b"
     r"|\bunder (?:article|section|regulation) \d+\b|\barticle \d+ (?:of the )?(?:gdpr|dsa)\b|\bsubpoena\b|\bwarrant\b"
     r"|\bcourt order\b|\bon behalf of the\b|\b(?:writing|contacting you|calling|reaching out) (?:from|on behalf of) (?:the )?\w+|\binvestigat(?:ion|ing)\b|\binquiry\b|\bcomplaint ref\b|\bremoval notice\b|\bnotice we issued\b", True),
    ("regulator_request", "law_enforcement", 0.5,
     r"\b(?:officer|detective|sergeant|constable|agent) [a-z]+\b|\b(?:nypd|lapd|met police|metropolitan police|sheriff'?s? (?:office|department)|"
     r"police (?:department|force|service)|polic[ei]a|homeland security|interpol|europol)\b", True),
    ("regulator_request", "records_request", 0.5,
     r"\bsubscriber (?:info(?:rmation)?|data|records|details)\b|\b(?:active|ongoing|open|criminal) (?:case|investigation|inquiry)\b"
     r"|\bwe (?:need|require|request) (?:the )?(?:account|user|subscriber|ip|login) (?:info(?:rmation)?|data|records|details|logs)\b", True),
    ("regulator_request", "legal_process", 1.0, r"\b(?:subpoena|search warrant|emergency disclosure request|production order|mlat)\b", True),
    # ---- press_enquiry ----------------------------------------------------------
    ("press_enquiry", "writer_for_outlet", 1.0,
     rf"\b(?:i|we) (?:write|report|work|freelance|contribute|am writing|'m writing|m writing)(?: \w+){{0,3}} (?:for|at|with) (?:the )?{_OUTLETS}\b"
     rf"|\b(?:journalist|reporter|correspondent|editor|producer|writer|columnist|contributor)s? (?:at|with|for|from) (?:the )?{_OUTLETS}\b"
     rf"|\b{_OUTLETS} (?:journalist|reporter|correspondent|editor|producer|writer|columnist)\b", True),
    ("press_enquiry", "writer_for_publication", 0.5,
     r"\b(?:(?:i|we) (?:write|report|work|freelance|contribute|am writing|'m writing|m writing)|"
     r"(?:journalist|reporter|correspondent|editor|producer|writer|columnist)s?) (?:for|at|with|from) (?:a|an|the|our) "
     r"(?:\w+ ){0,2}(?:newspaper|magazine|newsletter|publication|outlet|news ?(?:site|website|channel|station|desk)|"
     r"paper|radio (?:station|show)|tv (?:station|show|channel))\b"
     r"|\b(?:this is|i'?m|i am) \w+ (?:from|with|at) (?:the |a |an )?(?:\w+ ){0,2}(?:news ?desk|newsroom|news|newspaper|tv|radio|"
     r"station|magazine)\b", True),
    ("press_enquiry", "journalist", 0.5,
     r"\b(?:journalists?|reporters?|correspondents?|news ?desk|newsroom|press office|media enquiry|media inquiry|press enquiry|press inquiry)\b", True),
    ("press_enquiry", "story", 0.5,
     r"\blooking into\b|\b(?:running|writing|working on|preparing|doing|publishing|putting together|reporting) (?:a |an |the )?(?:\w+ )?"
     r"(?:story|piece|article|segment|report|feature|investigation|exposé|expose|podcast episode)\b", True),
    ("press_enquiry", "comment", 0.5,
     r"\b(?:for|request for|seeking|looking for|would like|like a|would love|love a|provide|give|offer) (?:a |an |your |any )?(?:comment|statement)\b"
     r"|\b(?:could|can|would|will) you (?:comment|confirm)\b|\bon the record\b|\boff the record\b|\bfor publication\b|\bby (?:our )?deadline\b"
     r"|\bavailable for (?:an )?interview\b|\b(?:like|love|request|requesting|arrange|schedule) an interview\b|\bcomment by\b|\bspokes(?:person|man|woman)\b|\bmedia relations\b", True),
    ("press_enquiry", "outlet", 0.4, _OUTLETS, False),
    ("press_enquiry", "big_audience", 0.5,
     r"\b(?:podcast|newsletter|channel|blog|show|audience|platform) (?:\w+ ){0,2}(?:has|with|of|reaches) (?:over |almost |like )?\d[\d.,]* ?(?:k|m|million|thousand)? "
     r"(?:listeners|subscribers|subs|readers|followers|viewers)\b", True),
    ("press_enquiry", "will_publicise", 0.5,
     r"\b(?:going to|gonna|will|'ll) (?:talk about|expose|post about|make a video about|tell (?:everyone|my followers|my audience) about|"
     r"write about|publici[sz]e|call you out)\b", True),
    ("press_enquiry", "go_to_press", 1.0,
     r"\b(?:go|going|went|gone|take this|taking this) to the (?:press|media|news|papers)\b|\b(?:contact|tell|tip off) (?:the )?(?:press|media|journalists)\b", True),
    # ---- executive_escalation ---------------------------------------------------
    ("executive_escalation", "contact_exec", 1.0,
     rf"\b(?:contact(?:ed|ing|s)?|e-?mail(?:ed|ing|s)?|call(?:ed|ing|s)?|writ(?:e|ing) to|wrote to|messag(?:e|ed|es|ing)|dm(?:ed|ing|'d)?|"
     rf"tweet(?:ed|ing)? at|tag(?:ged|ging)?|cc(?:'d|'?ing|ed)?|forward(?:ed|ing)? (?:this|it|everything|(?:the )?(?:whole )?(?:thread|ticket|email|conversation)) to|"
     rf"escalat(?:e|ed|ing) (?:this|it|my \w+)? ?to|go(?:ing)? (?:straight |directly )?to|went to|reach(?:ing)? out to|take this to|taking this to|"
     rf"copy(?:ing)? in|loop(?:ing)? in|let) (?:\w+ ){{0,1}}(?:your |the |ur |their )?{_EXEC}\b", True),
    ("executive_escalation", "wants_exec", 1.0,
     r"\b(?:want|need|demand|expect|insist on|put me through to|get me|i'?d like)(?: to (?:speak|talk) (?:to|with))? "
     r"(?:the |your |ur )(?:ceo|founders?|co-?founders?|president|vp|vice president|svp|evp|chief \w+ officer|coo|cfo|cto|"
     r"executive team|exec team|leadership team|c-suite)\b"
     # Someone senior, not a support manager, asked to act on the ticket.
     r"|\b(?:want|need|demand|expect|insist on|i'?d like) (?:the |your |ur )(?:head|director|boss)"
     r"(?: of (?:your |the )?\w+(?: \w+)?)? to (?:call|contact|email|ring|phone|meet|get back to|reply to) (?:me|us)\b"
     r"|\b(?:want|need|demand|expect|i'?d like) (?:the |your |ur )(?:head|director|boss)(?: of (?:your |the )?\w+(?: \w+)?)? "
     r"to (?:know|hear about|see|read) (?:this|it|how|what|about)\b", True),
    ("executive_escalation", "exec_hears", 1.0,
     rf"\b(?:your |the )?{_EXEC} (?:will|'ll|is going to|are going to|is gonna) (?:hear|know|find out|be informed)\b"
     rf"|\bi know (?:your |the )?{_EXEC}\b|\bfriends? (?:with|of) (?:your |the )?{_EXEC}\b", True),
    # ---- public_figure_impersonation -------------------------------------------
    ("public_figure_impersonation", "impersonating", 0.5,
     r"\b(?:impersonat(?:e|es|ed|ing|ion|or)|pretend(?:s|ed|ing)? to be|posing as|poses as|pose as|claim(?:s|ing)? to be|"
     r"fake (?:account|profile|page|accounts|profiles)|fan account pretending|using (?:the |a )?(?:\w+ ){0,2}(?:photos|pictures|name|face|likeness|voice)|"
     r"deep ?fake(?:d|s)? (?:of|video|ad)?)", True),
    ("public_figure_impersonation", "public_figure", 0.5, _PUBLIC_FIGURE_WORD, True),
    ("public_figure_impersonation", "scam", 0.3, r"\b(?:fake giveaway|giveaway scam|send (?:them )?crypto|crypto scam|scam(?:ming|s)?|fake (?:concert )?tickets)\b", True),
    # ---- account_takeover_financial ---------------------------------------------
    ("account_takeover_financial", "takeover", 0.5,
     r"\bhack(?:ed|ing|s)? (?:into )?(?:my|our|her|his) (?:\w+ )?(?:acc(?:ou|o)?nt|acct|profile|channel|wallet)\b"
     r"|\b(?:acc(?:ou|o)?nt|acct|profile|channel) (?:was|got|has been|had been|is|been) (?:hacked|compromised|taken over|stolen|hijacked)\b"
     r"|\bgot hacked\b|\bwas hacked\b|\bbeen hacked\b|\bhackers?\b|\bsomeone (?:logged|log) ?in(?:to)? (?:to )?my (?:acc(?:ou|o)?nt|acct)\b"
     r"|\b(?:logged|got|broke|broken) into my (?:acc(?:ou|o)?nt|acct)\b|\bunauthori[sz]ed (?:login|access|log-?in|sign-?in)\b"
     r"|\b(?:took|taken|take) over (?:my|our) (?:acc(?:ou|o)?nt|acct|channel|profile|page)\b|\baccount takeover\b|\bhijacked\b"
     r"|\b(?:someone|somebody|they|he|she|hacker|scammer)s? (?:\w+ )?(?:reset|changed) my (?:password|email|e-mail|phone number|2fa|login)\b"
     r"|\b(?:acc|account|acct) (?:was|got|has been|been) (?:hacked|compromised|taken over|stolen|hijacked)\b", True),
    ("account_takeover_financial", "unrecognised", 0.5,
     r"\b(?:bank|account|card|device|email|phone|number|payout method|payment method|login) (?:that )?(?:i|we) "
     r"(?:don'?t|do not|didn'?t|did not|never) (?:recogni[sz]e|know|add(?:ed)?|set up|own)\b", True),
    ("account_takeover_financial", "money_lost", 0.5,
     rf"\b{_MONEY_LOSS} (?:\w+ ){{0,3}}(?:all )?(?:of )?(?:my |our |the )?{_MONEY_OBJ}"
     rf"|\b{_MONEY_OBJ} (?:\w+ ){{0,2}}(?:gone|missing|went to (?:them|him|her|someone)|disappeared|vanished|stolen)\b"
     rf"|\bchanged (?:my |the )?(?:payout|bank|payment|withdrawal) (?:\w+ )?(?:details|account|method|info)\b"
     rf"|\bunauthori[sz]ed (?:\w+ )?(?:charges?|transactions?|purchases?|withdrawals?|payouts?|transfers?)\b", True),
    ("account_takeover_financial", "drained", 1.0,
     r"\bdrain(?:ed|ing)? (?:all )?(?:of )?(?:my|our) (?:\w+ )?(?:balance|account|wallet|earnings|funds|coins)\b", True),
)

# A negator in the same clause shortly before a cue cancels it.
_NEGATOR = re.compile(
    r"\b(?:not|never|no|nor|don'?t|dont|doesn'?t|didn'?t|won'?t|wont|wouldn'?t|isn'?t|aren'?t|wasn'?t|ain'?t|"
    r"can'?t|cannot|shouldn'?t|without|neither|no intention of|not planning to)\b"
)
_CLAUSE_BREAK = re.compile(
    r"[.!?;:,\n]|\b(?:but|however|though|although|and|or|yet|if|unless|because|cause|cuz|so|then|when|until)\b"
)
# A new subject between the negator and the cue starts a new clause: in "if it doesnt
# come back im going to kill myself" the "doesnt" belongs to the condition, not the cue.
_NEW_SUBJECT = re.compile(r"\b(?:i|i'm|im|i'll|ill|i'd|id|i've|ive|he|she|they|we|you|my|our|his|their)\b")
_NEGATION_WINDOW = 40  # characters: a few words, never past a clause break

# Quoting or discussing content is not a statement of intent: "the video talks about
# suicide", "what is your policy on threats". Applies to weak/topic cues only.
_TOPIC_FRAME = re.compile(
    r"\b(?:policy|policies|rules?|guidelines?|video|videos|documentary|song|lyrics|movie|film|series|show|book|"
    r"episode|article about|talks? about|discuss(?:es|ing)?|awareness|prevention|education(?:al)?|research|"
    r"statistics|what (?:is|are) your)\b"
)


# A cue inside quotes introduced like this is a mention, not a statement: "I got a
# strike for saying 'I'll kill you' in a game clip". A quote without such an
# introduction ("he wrote 'I will kill you'") still counts: it reports a threat.
_MENTION_INTRO = re.compile(
    r"\b(?:for|after|by|just) (?:saying|writing|typing|posting|commenting|using the (?:word|phrase)s?|the (?:word|phrase|line|lyric)s?)"
    r"\s*$|\b(?:the )?(?:lyrics?|line|quote|caption|title|phrase|word)s?(?: was| is| of)?\s*$"
)
_QUOTES = "'\""


def _is_mention(norm: str, start: int, end: int) -> bool:
    """Whether ``norm[start:end]`` sits inside a quote introduced as a mention."""
    for q in _QUOTES:
        open_at = norm.rfind(q, max(0, start - 60), start + 1)
        # an apostrophe inside a word ("i'll") is not an opening quote
        while open_at > 0 and q == "'" and norm[open_at - 1].isalnum():
            open_at = norm.rfind(q, max(0, start - 60), open_at)
        if open_at == -1 or open_at > start:
            continue
        close_at = norm.find(q, max(end - 1, open_at + 1))
        while close_at != -1 and q == "'" and close_at + 1 < len(norm) and norm[close_at + 1].isalnum():
            close_at = norm.find(q, close_at + 1)
        if close_at == -1 or close_at < end - 1:
            continue
        if _MENTION_INTRO.search(norm[max(0, open_at - 40):open_at]):
            return True
    return False


@lru_cache(maxsize=1)
def _cues() -> tuple[_Cue, ...]:
    """Compile the cue table once, on first use (no import-time work)."""
    return tuple(_Cue(c, n, w, re.compile(p), neg) for c, n, w, p, neg in _CUE_SPECS)


_TRANSLATE = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u00b4": "'", "`": "'",
                            "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-", "\u00a0": " "})


def _normalise(text: str) -> str:
    """Lower-case and straighten punctuation without changing any offset."""
    text = text.translate(_TRANSLATE)
    # str.lower() can lengthen a few characters (e.g. "İ"); keep those as they are so
    # every offset in the normalised text is valid in the original.
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in text)


def _negated(norm: str, start: int) -> bool:
    window_start = max(0, start - _NEGATION_WINDOW)
    window = norm[window_start:start]
    breaks = list(_CLAUSE_BREAK.finditer(window))
    if breaks:
        window = window[breaks[-1].end():]
    negators = list(_NEGATOR.finditer(window))
    if not negators:
        return False
    return _NEW_SUBJECT.search(window[negators[-1].end():]) is None


def _is_topic_frame(norm: str, start: int, end: int) -> bool:
    """Whether a weak cue sits inside a sentence that discusses a topic rather than a person."""
    left = max(norm.rfind(".", 0, start), norm.rfind("?", 0, start), norm.rfind("!", 0, start), norm.rfind("\n", 0, start))
    right_candidates = [i for i in (norm.find(".", end), norm.find("?", end), norm.find("!", end)) if i != -1]
    right = min(right_candidates) if right_candidates else len(norm)
    sentence = norm[left + 1:right]
    has_person = re.search(r"\b(?:i|i'm|im|me|my|she|he|her|him|they|them|friend|someone)\b", sentence)
    return _TOPIC_FRAME.search(sentence) is not None and has_person is None


def _match(text: str, source: str) -> list[tuple[_Cue, RiskEvidence]]:
    norm = _normalise(text)
    found: list[tuple[_Cue, RiskEvidence]] = []
    for cue in _cues():
        for m in cue.pattern.finditer(norm):
            if m.end() == m.start():
                continue
            if cue.negatable and _negated(norm, m.start()):
                continue
            if _is_mention(norm, m.start(), m.end()):
                continue
            if cue.weight < 1.0 and cue.category in ("self_harm", "violent_threat") and _is_topic_frame(
                norm, m.start(), m.end()
            ):
                continue
            found.append((cue, RiskEvidence(cue.category, text[m.start():m.end()], m.start(), m.end(), source)))
    return found



# --------------------------------------------------------------------------- semantic layer
# Short first-person statements written for this layer from the escalation matrix's
# category definitions (not from any evaluation set). Each is one idea, phrased the way
# users write, so a ticket sentence that *means* the same thing lands close to it even
# when it shares no cue word with the lexical table.
_EXEMPLARS: dict[str, tuple[str, ...]] = {
    "self_harm": (
        "I don't see a reason to keep living",
        "this is my final post, goodbye everyone",
        "I wrote letters to my family so they know I'm sorry",
        "I'm going to take all the pills I have tonight",
        "my friend keeps saying she wants to disappear forever and she gave away her things",
        "nobody will have to deal with me after tonight",
        "I have been hurting myself again since the ban",
        "she posted that she swallowed a lot of tablets and is not answering",
        "I can't cope anymore and I want everything to stop for good",
        "by the time you read this I will be gone",
        "my brother is standing on a bridge and says he will jump",
        "I gave away my stuff because I won't need it after this week",
        "I wish I could go to sleep and never wake up",
        "everyone would be better off without me",
        "I feel like such a burden to everyone",
        "I've made up my mind and tonight is the night",
        "please look after my dog for me after I'm gone",
    ),
    "violent_threat": (
        "someone said they will be waiting outside my school to stab me",
        "he told me he's going to come to my house and hurt me",
        "I'm going to show up at your office and make you all suffer",
        "a viewer said he has a gun and knows where I stream from",
        "they threatened to beat me up after class tomorrow",
        "I will find the moderator who banned me and make him pay",
        "someone commented that they'll bomb the fan meetup on saturday",
        "you'll regret this when I come to your building",
        "he keeps saying he'll break my legs next time he sees me",
        "a guy wrote that he would attack the concert with a weapon",
    ),
    "child_safety": (
        "an adult man keeps sending private messages to my young son",
        "a grown woman asked my eleven year old to video chat privately",
        "I'm thirteen and an older guy wants to meet me in person and keep it secret",
        "a stranger is offering gifts to kids in live streams if they add him on another app",
        "my niece is nine and has an account where strangers comment on her",
        "someone in his thirties keeps telling my teenage daughter he loves her",
        "an adult asked a child in the comments for her address",
        "this account seems to be run by a little kid and older users are messaging them",
        "a man is asking young girls on live to show their bedrooms",
        "my student who is twelve is being contacted by an adult stranger",
    ),
    "sexual_exploitation": (
        "someone is threatening to post my intimate photos unless I send money",
        "he says he will share my private pictures with my family if I don't pay",
        "an ex uploaded sexual videos of me without my consent",
        "a man asked my underage sister to send him pictures of her body",
        "they made a fake explicit video with my face on it",
        "someone is blackmailing me with nude screenshots from a video call",
        "there is a video of a child in a sexual situation",
        "he wants naked photos from a fourteen year old",
        "someone is selling explicit images of me that were taken without my permission",
        "I'm being pressured to send sexual content to avoid my photos being leaked",
    ),
    "doxxing": (
        "someone posted where I live and told people to go there",
        "my home address and phone number are in a video going around",
        "a stalker shared a photo of my front door with the street name",
        "they leaked my real name and my workplace so people can find me",
        "somebody published my parents' address in the comments",
        "a creator revealed which school I attend and my class schedule",
        "my ID card photo is being shared on a public account",
        "people are posting my location and saying to visit me",
        "someone uploaded my passport picture and my phone number",
        "a video shows the outside of my apartment and the building number",
    ),
    "legal_threat": (
        "my attorney will be filing a lawsuit against your company",
        "you will be hearing from my solicitor about this",
        "we are taking Loopr to court for damages",
        "this is a formal notice before legal proceedings",
        "I am a police officer requesting information about a user account",
        "we have a court order requiring disclosure of account records",
        "please find attached a subpoena for the user's data",
        "this detective needs account details for an ongoing investigation",
        "my law firm is preparing a claim for the money I lost",
        "I have instructed counsel and will sue for defamation",
    ),
    "regulator_request": (
        "the data protection authority is writing regarding a complaint about your company",
        "this letter is from the information commissioner's office requesting a response",
        "the supervisory authority requires details of your processing within 30 days",
        "we are the consumer protection agency investigating complaints about your platform",
        "our regulatory office has opened an inquiry and requests documents",
        "official request from the national communications regulator",
        "the commission has received a complaint and asks you to explain the steps taken",
        "as the government regulator we request information about your handling of this case",
    ),
    "press_enquiry": (
        "I'm a journalist working on a story about your platform and would like a comment",
        "I write for a national newspaper and we are publishing an article about creators",
        "could your company provide a statement before our deadline tomorrow",
        "I'm a reporter investigating how your moderation works",
        "our news programme is preparing a segment and wants your response",
        "as a tech reporter I'd like to ask how many accounts were affected",
        "we are running an investigation and are seeking comment from your press office",
        "I produce a podcast for a media outlet and want to interview your spokesperson",
    ),
    "executive_escalation": (
        "this was forwarded from the office of your chief executive",
        "the CEO personally asked us to look into this customer's complaint",
        "I have already emailed your founder and the board about this",
        "your vice president's assistant passed this case to us",
        "the executive office wants an update on this today",
        "I copied your chief executive on every email and I expect an answer",
        "a member of the leadership team asked support to handle this personally",
        "this complaint reached the CEO's inbox and needs urgent handling",
    ),
    "public_figure_impersonation": (
        "a fake account is pretending to be a famous singer and asking fans for money",
        "someone is impersonating the verified creator I manage",
        "an account uses a politician's name and photos to spread messages",
        "a profile is posing as a well known actor and running a giveaway",
        "I represent a celebrity and there are fake pages using her name",
        "someone copied a big creator's account and is scamming followers",
        "this account claims to be a famous athlete and sells fake tickets",
        "a deepfake video of a public figure is being used in an advert",
    ),
    "account_takeover_financial": (
        "someone hacked my account and withdrew my earnings",
        "a stranger changed my payout bank details and my balance is gone",
        "I was locked out and then my coins were spent without me",
        "my account was taken over and purchases were made on my card",
        "my money was sent to an account I don't recognise after a suspicious login",
        "I never made that withdrawal, someone else logged into my account",
        "after the hack my creator balance was transferred out",
        "there is a new payout method I didn't add and my earnings disappeared",
        "someone got into my account and bought gifts with my saved card",
        "my password was changed and then the payout went to another person",
    ),
}

# Ordinary tickets, including the hard negatives the SOPs call out (a first-message "I
# want the CEO", "I'll tell the newspapers", "I'll report you to the DPA", an ordinary
# user impersonated). A ticket sentence closer to these than to any risk exemplar stays
# normal.
_BENIGN_EXEMPLARS: tuple[str, ...] = (
    "my payout has been on hold for a week, when will it be released",
    "why was my video removed, it didn't break any rule",
    "I want to appeal the strike on my account",
    "how do I reset my password, the code never arrives",
    "I bought coins by mistake, can I get a refund",
    "the brand hasn't approved my campaign video yet",
    "how do I join the creator marketplace",
    "which tax form do I need for my first payout",
    "someone keeps leaving mean comments on my videos",
    "let me talk to your boss, your support is useless",
    "I'm going to tell the newspapers about how you treat creators",
    "remove my information or I will file a privacy complaint with the authorities",
    "an account copied my profile picture, I am just a regular user",
    "what is the minimum age to open an account",
    "how do I download a copy of my data",
    "I got logged out and can't get back in",
    "I forgot my password and the recovery email is old",
    "my gift didn't show up on the live stream",
    "can I change my username without losing followers",
    "is this message from your team genuine or a phishing attempt",
    "my video is getting no views since yesterday",
    "a warning appeared on my profile, what does it mean",
    "the sponsor asked me to change the caption of my post",
    "my account was banned, how do I appeal",
    "my earnings page shows a different number than last week",
    "please unblock my account, I did nothing wrong",
    "this app is terrible and I'm going to leave a bad review",
    "I'll post a video about how bad your support is",
    "my little brother watches my streams every day",
    "my video about mental health awareness was taken down",
    "what is your policy on violent content in games",
    "we are a small agency and want to learn about advertising options",
    "I'm a creator and I want to report a bug in the editor",
    "I sent the wrong amount of coins to a streamer",
    "my payment method was declined when buying coins",
    "how do I update the bank account where I get paid",
    "I'm so frustrated, this is the third time I'm asking",
    "I am a manager for a small brand and want to start a campaign",
    "the lawyer in my video was an actor, why was it flagged",
    "how long do content removal appeals take",
    "someone I blocked keeps messaging me from new accounts",
    "my video was removed for nudity but nothing explicit was shown",
    "someone copied my content and is selling it as their own",
    "a creator took my coins and didn't give me what they promised",
)

#: A category is flagged when one ticket sentence reaches this cosine with one of its
#: exemplars *and* beats the best benign exemplar by :data:`SEMANTIC_MARGIN`. Calibrated on
#: ``tests/kb/data/risk_tickets.jsonl`` (all 182 rows); see :func:`evaluate`.
SEMANTIC_THRESHOLD = 0.50
SEMANTIC_MARGIN = 0.05
#: The categories where a miss can cost a life are also flagged up to this much below the
#: threshold (0.48 with the shipped 0.50) when the sentence beats the ordinary exemplars by
#: twice the margin. Chosen on messages written for the purpose (benchmarks/README.md, "Fresh
#: phrasings"): 2 more of 20 high-risk messages flagged there, then 2 more of 24 written after.
LIFE_SAFETY_EASING = 0.02
LIFE_SAFETY_CATEGORIES = frozenset({"self_harm", "violent_threat", "child_safety"})


def threshold_pairs(category: str, cosine: float, benign: float) -> tuple[tuple[float, float], ...]:
    """How a sentence's scores meet the thresholds: it is flagged for ``category`` when, for
    one pair, the first value reaches the threshold and the second the margin.

    Args:
        category: the risk category.
        cosine: the sentence's cosine with the category's best exemplar.
        benign: its cosine with the best ordinary-ticket exemplar.
    """
    advantage = cosine - benign
    if category not in LIFE_SAFETY_CATEGORIES:
        return ((cosine, advantage),)
    return (cosine, advantage), (cosine + LIFE_SAFETY_EASING, advantage / 2)

_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")


def _units(text: str) -> list[tuple[int, int]]:
    """Sentence spans of ``text`` (plus the whole text when it has several sentences)."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in _SENTENCE_SPLIT.finditer(text):
        if text[pos:m.start()].strip():
            spans.append((pos, m.start()))
        pos = m.end()
    if text[pos:].strip():
        spans.append((pos, len(text)))
    # Adjacent pairs catch a signal split across two short sentences ("i didnt make that
    # withdrawl. who do i talk to" after "the weird login happened").
    pairs = [(spans[i][0], spans[i + 1][1]) for i in range(len(spans) - 1)]
    return spans + pairs


#: Labelled tickets the semantic layer also compares with (JSONL: ``text``, ``context``,
#: ``risk`` high / normal, ``categories``, ``source``): the dev half of the labelled risk set and
#: the messages written to test the detector on fresh phrasings (benchmarks/README.md). Left out
#: one writing round at a time, they raise its recall on that round (``benchmarks/risk_fresh.py``).
LABELLED_EXAMPLES = Path(__file__).parent / "data" / "risk_examples.jsonl"


class RiskExamplesError(SetupError, ValueError):
    """A labelled-examples file that cannot be used (the message names the file and line)."""


@lru_cache(maxsize=4)
def labelled_examples(path: Path = LABELLED_EXAMPLES) -> tuple[dict, ...]:
    """The labelled tickets in ``path``, checked line by line.

    Raises:
        RiskExamplesError: unreadable file, bad JSON, no ``text``, a ``risk`` other than high /
            normal, or a high-risk row without known ``categories``.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise RiskExamplesError(f"{path}: cannot read labelled risk examples ({getattr(exc, 'strerror', None) or exc})") from exc
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RiskExamplesError(f"{path}:{number}: invalid JSON ({exc.msg})") from exc
        if not isinstance(row, dict) or not str(row.get("text") or "").strip():
            raise RiskExamplesError(f"{path}:{number}: each line needs a non-empty \"text\"")
        categories = tuple(row.get("categories") or ())
        if row.get("risk") not in ("high", "normal"):
            raise RiskExamplesError(f"{path}:{number}: \"risk\" must be \"high\" or \"normal\"")
        if row["risk"] == "high" and (not categories or not set(categories) <= set(RISK_CATEGORIES)):
            raise RiskExamplesError(f"{path}:{number}: a high-risk row needs \"categories\" from {', '.join(RISK_CATEGORIES)}")
        rows.append({**row, "categories": categories, "context": str(row.get("context") or "")})
    return tuple(rows)


def examples_with(extra: Path | str | None) -> tuple[dict, ...]:
    """The bundled labelled tickets, plus a deployment's own (``Settings.risk_examples``)."""
    return labelled_examples() + (labelled_examples(Path(extra)) if extra else ())


class SemanticRiskLayer:
    """Nearest-exemplar risk detection with a sentence embedder (the generalising layer).

    The lexical cues are precise but only catch phrasings someone anticipated. This layer
    compares every sentence of the ticket (and of its context) with short exemplar
    statements per category, with labelled tickets (:data:`LABELLED_EXAMPLES`) and with
    ordinary-ticket exemplars, so "I won't be around to see it" lands near "nobody will have
    to deal with me after tonight" without sharing a cue word.

    Args:
        embedder: any object with ``encode(list[str]) -> np.ndarray`` of L2-normalised rows.
        threshold: minimum cosine with a category exemplar.
        margin: how much the category must beat the closest benign exemplar.
        examples: labelled tickets to compare with as well (rows as :func:`labelled_examples`
            returns them); default: the bundled ones. Rows with earlier conversation are left
            out: their message alone may be harmless ("any update?").
    """

    def __init__(self, embedder, *, threshold: float = SEMANTIC_THRESHOLD, margin: float = SEMANTIC_MARGIN,
                 examples: tuple[dict, ...] | None = None) -> None:
        self.embedder = embedder
        self.threshold = threshold
        self.margin = margin
        self.examples = labelled_examples() if examples is None else examples
        self._bank = None

    def _exemplar_bank(self):
        # Encoded once per layer on first use: ~1,000 short sentences, about a second here, then
        # read from the model's cache folder by later processes (the desk's warm-up does it at start).
        if self._bank is None:
            import numpy as np

            from kb.vector_cache import persisted_vectors

            labelled = [row for row in self.examples if not row["context"].strip()]
            pairs = [(c, t) for c in RISK_CATEGORIES for t in _EXEMPLARS[c]]
            pairs += [(c, row["text"]) for row in labelled if row["risk"] == "high" for c in row["categories"]]
            benign = list(_BENIGN_EXEMPLARS) + [row["text"] for row in labelled if row["risk"] != "high"]
            vectors = persisted_vectors(self.embedder, [t for _c, t in pairs] + benign, purpose="risk-bank")
            self._bank = (np.asarray([c for c, _t in pairs]), vectors[: len(pairs)], vectors[len(pairs):])
        return self._bank

    def scores(self, text: str, context: str = "") -> list[tuple[str, float, float, str, int, int]]:
        """``(category, cosine, benign_cosine, source, start, end)`` of every sentence for every
        category, each category's sentences best first (by advantage over the benign exemplars,
        not by raw cosine)."""
        import numpy as np

        labels, risk_vecs, benign_vecs = self._exemplar_bank()
        units: list[tuple[str, int, int, str]] = []
        for source, body in (("text", text or ""), ("context", context or "")):
            units += [(source, s, e, body[s:e]) for s, e in _units(body)]
        if not units:
            return []
        vecs = np.asarray(self.embedder.encode([u[3] for u in units]), dtype=np.float32)
        # On one thread: a product this size makes OpenBLAS wake its other threads, which then
        # spin and take the cores from the next query's encoder (warm retrieval p95 2.1 -> 8 ms
        # on the demo tickets once the bank held the labelled examples).
        with one_blas_thread():
            sim = vecs @ risk_vecs.T
            benign = (vecs @ benign_vecs.T).max(axis=1)
        out = []
        for category in RISK_CATEGORIES:
            per_unit = sim[:, labels == category].max(axis=1)
            for best in np.argsort(-(per_unit - benign), kind="stable"):
                source, start, end, _ = units[best]
                out.append((category, float(per_unit[best]), float(benign[best]), source, start, end))
        return out

    def gated_scores(self, text: str, context: str = "") -> list[tuple[str, float, float, str, int, int]]:
        """:meth:`scores` without the sentences that lack their category's required elements
        nearby (in a long thread the closest sentence may be about something else)."""
        return [score for score in self.scores(text, context) if self._carries_required(text, context, *score)]

    @staticmethod
    def _carries_required(text: str, context: str, category: str, _cos: float, _benign: float, source: str,
                          start: int, end: int) -> bool:
        required = _SEMANTIC_REQUIRES.get(category, ())
        return all(pattern.search(_gate_text(text, context, source, start, end)) for pattern in required)

    def flagged(self, text: str, context: str = "") -> list[RiskEvidence]:
        """Evidence (one sentence each) for the categories this layer flags: per category, its
        best sentence among those that clear the thresholds and carry the category's required
        elements nearby."""
        evidence, done = [], set()
        for score in self.scores(text, context):
            category, cos, benign, source, start, end = score
            # Thresholds first: the required-element patterns are the costly part.
            if category in done or not any(c >= self.threshold and a >= self.margin
                                           for c, a in threshold_pairs(category, cos, benign)):
                continue
            if not self._carries_required(text, context, *score):
                continue
            done.add(category)
            body = text if source == "text" else context
            evidence.append(RiskEvidence(category, body[start:end], start, end, source))
        return evidence


#: How far from the flagged sentence (characters, about two short turns) the elements a
#: category requires may be: in a long thread "someone" or "log in" is said sooner or later
#: about something else.
_GATE_REACH = 400


def _gate_text(text: str, context: str, source: str, start: int, end: int) -> str:
    """The part of a conversation that must carry a flagged category's required elements:
    the words within :data:`_GATE_REACH` characters of the flagged sentence, read across the
    earlier conversation and the message as one text (a thread may be pasted in either), and
    the message itself, which is what the conversation is about now."""
    whole = f"{context}\n{text}"
    if source == "text":
        start, end = start + len(context) + 1, end + len(context) + 1
    lo, hi = max(0, start - _GATE_REACH), min(len(whole), end + _GATE_REACH)
    # Whole words only: a cut "homework" must not read as "work".
    if lo > 0:
        lo = next((i + 1 for i in range(lo - 1, start) if whole[i].isspace()), start)
    if hi < len(whole):
        hi = next((i for i in range(hi, end - 1, -1) if whole[i].isspace()), end)
    return whole[lo:hi] if source == "text" else f"{whole[lo:hi]}\n{text}"


#: Categories whose definition needs concrete elements the text must mention (all of them):
#: a takeover is only "with financial loss" when money is talked about at all (a plain hacked
#: account follows the ordinary recovery SOP), and only a takeover when someone else acted
#: ("is my money gone" after changing one's own bank details is an ordinary payout question).
#: A legal threat or law-enforcement request names the law, a court or its people: without
#: one, "can Loopr make them pay?" only sounds like "I'll make you pay in court".
#: Public-figure impersonation names a public figure or their audience (impersonating a small
#: business or an ordinary user follows the ordinary impersonation SOP). The categories where
#: a miss can cost a life (self-harm, threats, child safety) get no such gate: their false
#: flags are the accepted price of recall; doxxing gets a deliberately broad one.
_SEMANTIC_REQUIRES: dict[str, tuple[re.Pattern, ...]] = {
    # Broad, like doxxing's: sexual content, coercion or exposure of images, or a minor.
    # "Someone is selling my presets" or "using my photos to ask my followers for money"
    # has none of them.
    "sexual_exploitation": (
        re.compile(r"\b(?:sex\w*|nude\w*|nudity|naked|undress\w*|intimate|explicit|porn\w*|lewd\w*|nsfw|"
                   r"onlyfans|spicy|body|bodies|underwear|lingerie|topless|bed|deep ?fake\w*|private (?:parts|pics?|"
                   r"pictures?|photos?|images?|videos?|vids?|content)|adult (?:site|website|page|account)|blackmail\w*|"
                   r"extort\w*|threat\w*|unless|if (?:i|we) (?:don'?t|dont|do not|didn'?t)|leak\w*|expos\w*|"
                   r"consent\w*|agree\w*|without (?:me|her|him|us|them) knowing|hidden|spy|upskirt\w*|groom\w*|under ?age\w*|"
                   r"minors?|child\w*|kids?|teen\w*|girls?|boys?|daughter|son|sister|brother|\d{1,2} ?(?:yo|years?))\b",
                   re.IGNORECASE),
    ),
    "public_figure_impersonation": (
        re.compile(rf"{_PUBLIC_FIGURE_WORD}|\b(?:fans|followers|star|influencer|creator|manage[rd]?|represent\w*|"
                   r"agency|talent)\b", re.IGNORECASE),
        # ... and someone pretending: a famous singer who followed the user is good news.
        re.compile(r"\b(?:impersonat\w*|pretend\w*|posing|poses|pose as|claim\w* to be|fake\w*|cop(?:y|ied|ies|ying)|"
                   r"clon\w*|(?:using|uses|used) (?:\w+ ){0,3}(?:name|photos?|pictures?|pics|face|likeness|voice|logo)|"
                   r"deep ?fake\w*|scam\w*|parody|fan (?:account|page)|isn'?t (?:really )?(?:her|him|them|me)|"
                   r"not (?:really )?(?:her|him|them|me)\b)", re.IGNORECASE),
    ),
    # Broad on purpose (doxxing is a safety category): either something is being exposed, or
    # something that finds or identifies a person is named. "Someone used my card without
    # permission" has neither.
    "doxxing": (
        re.compile(r"\b(?:post\w*|shar\w*|leak\w*|publish\w*|reveal\w*|expos\w*|spread\w*|upload\w*|screenshot\w*|"
                   r"going around|circulat\w*|tell\w* (?:everyone|people|others)|told (?:everyone|people|others)|"
                   r"dox\w*|track\w*|stalk\w*|follow\w* me|(?:know|knows|found out|find out) where|"
                   r"address\w*|phone|numbers?|where (?:i|we|she|he|they|my \w+)|home|house|apartment|flat|street|"
                   r"door|neighbou?rhood|school|class|workplace|work|works|job|office|location|whereabouts|"
                   r"real name|full name|surname|last name|personal|private|id|passport|licen[sc]e|family|"
                   r"parents?|photos?|pictures?|car|plate|gym)\b", re.IGNORECASE),
    ),
    "legal_threat": (
        re.compile(r"\b(?:su(?:e|es|ed|ing|eing)|lawsuits?|law|laws|lawyers?|lawers?|law ?firms?|attorn[ie]ys?|"
                   r"atorn[ie]ys?|solicitors?|counsel|barristers?|courts?|legal(?:ly)?|litigat\w*|proceedings?|"
                   r"subpoena\w*|warrants?|police|officers?|detectives?|investigat\w*|cease and desist|defamat\w*|"
                   r"libel\w*|slander\w*|damages|tribunal|judges?|class action|small claims|notice|claims?)\b",
                   re.IGNORECASE),
    ),
    # A regulator or public body, or its people, is named: "they charged me wrong" is not a
    # consumer-protection office writing in.
    "regulator_request": (
        re.compile(rf"{_REGULATORS}|\b(?:department|dept|authority|authorities|commission\w*|regulat\w*|agency|"
                   r"ministry|government|gov|council|ombudsman|bureau|inspector\w*|tribunal|court|police|officers?|"
                   r"detectives?|sergeant|constable|prosecutor\w*|investigat\w*|official\w*|on behalf of|statutory|"
                   r"enforcement|supervisory|subpoena\w*|warrant)\b", re.IGNORECASE),
    ),
    # Someone above support is named or asked for.
    "executive_escalation": (
        re.compile(rf"{_EXEC}|\b(?:escalat\w*|manager|supervisor|boss|head|leadership|leaders|director\w*|owner|"
                   r"founders?|cc'?d|cc'?ing|copied|over your head|higher up|someone senior|senior)\b", re.IGNORECASE),
    ),
    "account_takeover_financial": (
        re.compile(rf"\b(?:{_MONEY_OBJ}|withdr\w*|payments?|paid|purchases?|transactions?|refunds?)", re.IGNORECASE),
        re.compile(r"\b(?:hack\w*|compromis\w*|someone|somebody|stranger|unauthori[sz]\w*|not me|wasn'?t me|"
                   r"without (?:me|my)|(?:didn'?t|did not|never) (?:make|made|buy|bought|authori[sz]e\w*|add\w*|"
                   r"change\w*|do|did|spend|spent|send|sent|request\w*)|(?:don'?t|do not) recogni[sz]e|"
                   r"locked out|lost access|suspicious|log(?:ged)? ?in|sign(?:ed)? ?in|took over|taken over|"
                   r"stole|stolen|thie(?:f|ves)|hijack\w*|scam\w*|phish\w*|fraud\w*|new device|not mine|isn'?t mine|"
                   r"(?:bank|account|card|device|email|phone|number|method) (?:that )?(?:i|we) (?:don'?t|do not|didn'?t|did not) "
                   r"(?:know|recogni[sz]e|add|set up|own))", re.IGNORECASE),
    ),
}

_SEMANTIC_LAYERS: dict[tuple[int, float, float, str], SemanticRiskLayer] = {}


def _semantic_layer(embedder, threshold: float, margin: float, extra_examples: Path | str | None = None
                    ) -> SemanticRiskLayer:
    from kb.vector_cache import SentenceVectors, sentence_vectors

    # Through the process's shared text-vector cache: the message the retrieval query has
    # just encoded, or a redraft of the same ticket, costs no second encoding.
    if not isinstance(embedder, SentenceVectors):
        embedder = sentence_vectors(embedder)
    key = (id(embedder), threshold, margin, str(extra_examples or ""))
    layer = _SEMANTIC_LAYERS.get(key)
    if layer is None or layer.embedder is not embedder:
        layer = _SEMANTIC_LAYERS[key] = SemanticRiskLayer(embedder, threshold=threshold, margin=margin,
                                                          examples=examples_with(extra_examples))
    return layer


def _lexical(text: str, context: str) -> tuple[list[tuple[_Cue, RiskEvidence]], set[str]]:
    matches = _match(text or "", "text")
    if context:
        matches += _match(context, "context")
    by_category: dict[str, dict[str, float]] = {}
    for cue, _ev in matches:
        by_category.setdefault(cue.category, {})[cue.name] = cue.weight
    return matches, {c for c in RISK_CATEGORIES if sum(by_category.get(c, {}).values()) >= THRESHOLD - 1e-9}


def lexical_categories(text: str, context: str = "") -> set[str]:
    """The categories the lexical cues alone flag (model-free)."""
    return _lexical(text, context)[1]


def assess_risk(text: str, context: str = "", *, embedder=None, semantic_threshold: float = SEMANTIC_THRESHOLD,
                semantic_margin: float = SEMANTIC_MARGIN, extra_examples: Path | str | None = None,
                semantic_layer: SemanticRiskLayer | None = None) -> RiskAssessment:
    """Assess whether a ticket needs the high-risk procedure.

    Args:
        text: The ticket (latest customer message). Treated as data only.
        context: Earlier conversation, if any; its cues count toward the assessment.
        embedder: Optional sentence embedder (``encode(list[str])`` of L2-normalised rows).
            With it, the :class:`SemanticRiskLayer` also runs and its categories are added
            to the lexical ones (union: the layers catch different misses). Without it
            the assessment is lexical only, fast and model-free.
        semantic_threshold: the semantic layer's cosine threshold (``Settings.semantic_risk_threshold``).
        semantic_margin: its margin over the ordinary-ticket exemplars (``Settings.semantic_risk_margin``).
        extra_examples: a deployment's own labelled tickets for the semantic layer to compare
            with, besides the bundled ones (``Settings.risk_examples``; JSONL as
            :data:`LABELLED_EXAMPLES`).
        semantic_layer: a layer to use instead of the process's shared one for ``embedder``
            and the settings above (an evaluation comparing exemplar banks passes its own).

    Returns:
        A :class:`RiskAssessment`; ``level`` is ``"high"`` when any category reaches
        the threshold, and ``evidence`` lists the phrases behind each flagged category.
    """
    matches, lexical = _lexical(text, context)
    all_evidence = [ev for _cue, ev in matches]
    if embedder is not None and ((text or "").strip() or (context or "").strip()):
        layer = semantic_layer or _semantic_layer(embedder, semantic_threshold, semantic_margin, extra_examples)
        semantic = layer.flagged(text or "", context or "")
        all_evidence += semantic
        lexical |= {ev.category for ev in semantic}
    flagged = tuple(c for c in RISK_CATEGORIES if c in lexical)
    evidence: list[RiskEvidence] = []
    seen: set[tuple[str, str, int, int]] = set()
    for ev in sorted(all_evidence, key=lambda e: (e.source != "text", e.start, e.end)):
        key = (ev.category, ev.source, ev.start, ev.end)
        if ev.category in flagged and key not in seen:
            seen.add(key)
            evidence.append(ev)
    return RiskAssessment("high" if flagged else "normal", flagged, tuple(evidence))


# --------------------------------------------------------------------------- evaluation
def evaluate(rows: list[dict], *, embedder=None) -> dict:
    """Compute detection metrics over labelled tickets.

    Args:
        rows: Dicts with ``text``, ``context``, ``risk`` (``"high"``/``"normal"``) and
            ``categories`` (expected categories for high-risk rows).

    Returns:
        ``n_high``, ``n_normal``, ``recall`` (high rows flagged), ``false_flag_rate``
        (normal rows flagged), ``category_accuracy`` (high rows whose flagged
        categories include at least one expected category), ``category_exact`` (flagged
        set equals expected set) and the lists of misses and false flags.
    """
    high = [r for r in rows if r["risk"] == "high"]
    normal = [r for r in rows if r["risk"] != "high"]
    misses, false_flags, wrong_category = [], [], []
    hit = cat_any = cat_exact = 0
    for r in high:
        a = assess_risk(r["text"], r.get("context", ""), embedder=embedder)
        if a.is_high:
            hit += 1
        else:
            misses.append(r["text"])
        expected = set(r.get("categories", r.get("risk_categories", [])))
        if expected & set(a.categories):
            cat_any += 1
        else:
            wrong_category.append({"text": r["text"], "expected": sorted(expected), "got": list(a.categories)})
        if expected == set(a.categories):
            cat_exact += 1
    for r in normal:
        a = assess_risk(r["text"], r.get("context", ""), embedder=embedder)
        if a.is_high:
            false_flags.append({"text": r["text"], "categories": list(a.categories)})
    return {
        "n_high": len(high),
        "n_normal": len(normal),
        "recall": round(hit / len(high), 4) if high else None,
        "false_flag_rate": round(len(false_flags) / len(normal), 4) if normal else None,
        "category_accuracy": round(cat_any / len(high), 4) if high else None,
        "category_exact": round(cat_exact / len(high), 4) if high else None,
        "misses": misses,
        "false_flags": false_flags,
        "wrong_category": wrong_category,
    }


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kb.risk", description="Assess ticket risk or evaluate the detector.")
    parser.add_argument("--eval", metavar="JSONL", type=Path, help="labelled tickets; prints metrics per split as JSON")
    parser.add_argument("--split", help="evaluate only this split (e.g. dev or heldout)")
    parser.add_argument("--semantic", action="store_true",
                        help="add the embedding layer (loads the configured sentence-transformers model)")
    parser.add_argument("text", nargs="?", help="a ticket to assess (if --eval is not given)")
    args = parser.parse_args(argv)
    if args.eval:
        rows = [json.loads(line) for line in args.eval.read_text(encoding="utf-8").splitlines() if line.strip()]
        embedder = None
        if args.semantic:
            from kb.config import Settings
            from kb.embedder import get_embedder

            embedder = get_embedder(Settings())
        splits = sorted({r.get("split", "all") for r in rows})
        if args.split:
            splits = [args.split]
        out = {s: evaluate([r for r in rows if r.get("split", "all") == s], embedder=embedder) for s in splits}
        if not args.split:
            out["all"] = evaluate(rows, embedder=embedder)
        print(json.dumps(out, indent=2))
        return 0
    text = args.text if args.text is not None else sys.stdin.read()
    print(json.dumps(assess_risk(text).to_dict(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
