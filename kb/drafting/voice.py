"""Whom a guidance sentence speaks to, and the same sentence said to the user.

Policies are often written for the people who apply them, not for the people they apply
to: "The user needs to provide a payment method to receive the refund", "If the user is
roaming, guide them to use toggle_roaming()". The offline drafter quotes guidance, so it
needs to know which sentences are instructions to the desk (never quoted) and how to say a
rule about "the user" to the user ("You need to provide a payment method ...").

The rewrite is deliberately conservative: it only changes a mention it can parse (the
reader as subject before a verb it can conjugate, as object after a preposition or verb, or
as a possessive), and returns ``None`` for anything else, so a sentence is never quoted
with broken grammar.
"""

from __future__ import annotations

import re

_READER = r"the (?:user|customer|caller)"
_SECOND_PERSON = re.compile(r"\b(?:you|your|yours|yourself)\b", re.IGNORECASE)
#: Another person the sentence is about: then "the user" may be them, not the reader.
_OTHER_READER = re.compile(r"\b(?:an?|another|other|each|every|any) (?:users?|customers?|callers?)\b", re.IGNORECASE)
_MODALS = r"(?:must|should|can|cannot|can't|may|might|will|won't|would|could|shall|needs? to|has to|have to|is (?:required|expected|(?:not )?allowed|able|unable) to)"

#: A staff member told what to do ("The agent must obtain the reason", "the agent cannot
#: help"). With "you" in it the sentence is about an agent the user meets ("The agent at the
#: gate will weigh your bag").
_AGENT_DUTY = re.compile(r"\bthe (?:agent|representative|advisor|operator)s?\b(?:\s+\w+){0,3}?\s+"
                         # Duties only: "The agent will call you back" tells the user what happens.
                         r"(?:must|should|cannot|can't|needs? to|has to|have to|is (?:required|(?:not )?allowed) to)\b",
                         re.IGNORECASE)
#: What the user wants, told to the desk as the case it is handling ("The customer wants to check
#: the status of their shipment", "The customer is complaining about a promo code"): a reply
#: does not tell the user what they asked. Only as the sentence's own subject: "If the user
#: wants to leave, they can ..." is a rule.
_THE_CASE = re.compile(r"^(?:the (?:user|customer|caller)) (?:(?:also|now|then) )?(?:wants|would like|needs help|"
                       r"is (?:\w+ing|interested|upset|unhappy|frustrated|confused)|asks|complains|calls|requests|"
                       r"reports|writes|has (?:a|an) (?:question|issue|problem|complaint|request)|"
                       # What they will say in the conversation ("The customer will give the reason ...").
                       r"will (?:ask|say|tell|give|mention|explain|describe|complain|call|want))\b", re.IGNORECASE)
#: "As an airline agent, you can help users ...": the "you" is staff.
_YOU_AS_STAFF = re.compile(r"\bas an? (?:\w+\s+){0,2}(?:agent|representative|advisor|operator)\b", re.IGNORECASE)
#: A tool or API the desk calls ("use toggle_roaming()", "The API does not check ...").
_TOOL_CALL = re.compile(r"\b[A-Za-z]\w*\(\s*\)|\b[a-z]+_[a-z_]+\(|\bthe api\b|\b(?:tool|function) calls?\b"
                        # "This action can only be called once": an action is called by a system's operator.
                        r"|\b(?:action|tool|function)s?\b(?:\s+\w+){0,3}?\s+(?:be\s+|been\s+)?called\b",
                        re.IGNORECASE)
#: Actions in the sense of a system's operations, whoever "you" is ("check its status before
#: taking the action", "you can take actions to modify it"); not "take action against".
_OPERATOR_ACTION = re.compile(r"\b(?:before|after) taking (?:the|any|this|an) actions?\b|\byou can take actions\b",
                              re.IGNORECASE)
#: The document describing itself to its staff readers ("This section explains for agents how
#: to troubleshoot ..."); a reply has no use for a sentence about the document either way.
_ABOUT_THE_DOCUMENT = re.compile(
    r"\b(?:explains|describes|details|covers|outlines|lists|is|are)\s+for\s+(?:the\s+)?"
    r"(?:agents?|staff|representatives?|specialists?|operators?)\b"
    r"|\bfor (?:agents|staff|representatives|specialists|operators) only\b"
    r"|^this (?:section|guide|manual|page|chapter|article|document)\b(?:\s+\w+)?\s+"
    r"(?:explains|describes|details|covers|outlines|provides|lists|summari[sz]es)\b",
    re.IGNORECASE)
#: A command about the reader in the third person: "Ask the user for the order id", "If the
#: line is roaming, guide them to ...". "them" counts only after verbs nobody uses about a
#: friend ("ask them how they feel" is advice a user may get).
_COMMAND_ABOUT_READER = re.compile(
    rf"(?:^|[,;:]\s+|\bthen\s+)(?:please\s+)?(?:(?:ask|tell|inform|remind|advise|help|offer|notify|refer|send|give|"
    rf"let|show|encourage|verify|confirm with|explain to|escalate|provide)\s+{_READER}s?\b"
    rf"|(?:guide|instruct|transfer|direct|walk)\s+(?:them|{_READER}s?)\b)",
    re.IGNORECASE,
)

_VERB_FORMS = {"is": "are", "was": "were", "has": "have", "does": "do", "doesn't": "don't", "isn't": "aren't",
               "wasn't": "weren't", "hasn't": "haven't", "goes": "go"}
_IRREGULAR_PAST = frozenset("made sent paid bought got gave had did said told left lost took saw found wrote chose "
                            "became began brought held kept knew let put read ran set sold spent understood won".split())
_ADVERBS = frozenset("also still only first then already never always now later usually again just no longer "
                     "previously originally".split())
#: Words that may follow a present-tense verb: its object, a preposition, an adverb or the end.
_AFTER_VERB = frozenset("to a an the their his her them it that this these those any all some no more back up out "
                        "in on for from with by about again only also each every one two three at into off over "
                        "via within".split())
#: Words before "the user" that make it an object ("to the user", "allows the user to").
_BEFORE_OBJECT = frozenset("to for with by from of about on at allows allow lets let helps help notify notifies tells "
                           "tell asks ask gives give sends send reminds remind contacts contact prompts prompt shows "
                           "show emails email offers offer charges charge refunds refund".split())
#: Words before "the user" that open a clause with it as the subject.
_BEFORE_SUBJECT = frozenset("if when unless that once until after before because while where whether and or but "
                            "so then".split())
#: People (plural) a "they" or "their" may point at instead of the reader.
_OTHER_PEOPLE = re.compile(r"\b(?:users|accounts|creators|followers|people|others|members|fans|viewers|agents|parents|"
                           r"friends|brands|staff|team)\b", re.IGNORECASE)
_MENTION = re.compile(rf"\b{_READER}(?:'s|\u2019s)?\b", re.IGNORECASE)


def speaks_to_desk(sentence: str) -> bool:
    """Whether ``sentence`` instructs the people who handle tickets rather than informs the user.

    Args:
        sentence: one sentence of guidance (Markdown already cleaned).
    """
    has_you = bool(_SECOND_PERSON.search(sentence))
    if _TOOL_CALL.search(sentence) and not has_you:
        return True
    if (_AGENT_DUTY.search(sentence) and not has_you) or _YOU_AS_STAFF.search(sentence):
        return True
    if _ABOUT_THE_DOCUMENT.search(sentence) or _OPERATOR_ACTION.search(sentence):
        return True
    if _COMMAND_ABOUT_READER.search(sentence) or _THE_CASE.search(sentence):
        return True
    # "You should check the line the user provided": the "you" is the agent (unless another
    # user is meant: "If a user reports you, the user is not told who you are").
    return has_you and bool(_MENTION.search(sentence)) and not _OTHER_READER.search(sentence)


#: Verbs that open an instruction ("Check the bill status", "Investigate if the line is
#: suspended"). Several are nouns too ("Document retention is ..."), so a command also needs
#: the word after the verb to start its object or clause (see :data:`_OBJECT_START`).
_COMMAND_VERBS = frozenset(
    "acknowledge add apologise apologize apply ask assign attach avoid calculate call cancel check choose clarify "
    "click close collect confirm contact continue copy create decide deny determine direct document enable disable "
    "encourage enter escalate explain finalise finalize find flag follow gather generate get give go identify "
    "include inform input investigate issue keep let list locate log look make mark mention move note notify "
    "obtain offer open perform press proceed process provide pull read reassure record refer refund reject remind "
    "remove reply request reset respond resume review route search select send set share skip start suspend tag "
    "tell thank transfer treat try type update use validate verify warn wrap".split())
#: Verbs that are almost never a noun at the start of a sentence: a command whatever follows.
_UNAMBIGUOUS_COMMAND_VERBS = frozenset(
    "acknowledge apologise apologize ask calculate clarify click confirm determine enable escalate explain finalise "
    "finalize gather identify inform investigate locate notify obtain perform proceed reassure remember remind "
    "respond validate verify".split())
_OBJECT_START = frozenset(
    "the a an if whether that their his her its them it this these those any all each every what how when why "
    "which who with to for up out back down in on off sure our by onto into through".split())
#: Where a command may start: the sentence, or a clause after a colon, a semicolon (list items
#: read as one sentence), an arrow of a flow ("If the item is delivered > Move onto the next
#: step"), a bracket ("(Only if the order exists) Find out ..."), a comma or "then".
_LEADING_COMMAND = re.compile(r"(?:^|[:;>)]\s*|,\s+|\bthen\s+)"
                              r"(?:(?:then|first|next|finally|also|please|now|always|just|simply|kindly)\b,?\s+)?"
                              r"(?P<verb>[A-Za-z]+)\s+(?P<next>[A-Za-z']+)", re.IGNORECASE)


#: A tool, in a passage written for the desk, is the desk's ("The send payment request tool
#: will not check if the bill is overdue"), and so is a button of its console ("[Offer Refund]");
#: "the agent" is its reader ("The agent will not be able to modify the order anymore").
_CONSOLE_BUTTON = re.compile(r"\[[A-Z][A-Za-z'-]*(?: [A-Za-z'-]+)*\]")
_DESK_TOOL = re.compile(r"\btools?\b|\bthe (?:agent|representative|advisor|operator)s?\b|" + _CONSOLE_BUTTON.pattern,
                        re.IGNORECASE)


def is_bare_command(sentence: str) -> bool:
    """Whether the sentence, or a clause of it (see :data:`_LEADING_COMMAND`), is an instruction
    with no "you" in it ("Check the bill status to make sure it is overdue", "Investigate if
    the line is suspended").

    Args:
        sentence: one sentence of guidance.
    """
    if _SECOND_PERSON.search(sentence):
        return False
    for match in _LEADING_COMMAND.finditer(sentence):
        verb, following = match.group("verb").lower(), match.group("next").lower()
        if verb in _UNAMBIGUOUS_COMMAND_VERBS or (verb in _COMMAND_VERBS and following in _OBJECT_START):
            return True
    return False


def written_for_desk(sentences) -> bool:
    """Whether a passage is written for the people who serve the user.

    It is when one of its sentences instructs them (:func:`speaks_to_desk`: "You can help the
    user make a payment", "The agent must obtain the reason"), or when it gives commands while
    it speaks of the user in the third person ("If the line is suspended, the user will not
    have service. Investigate if the line is suspended."): a text written for users would
    say "you". Commands beside the buttons of a desk console ("Start by looking up the order
    with [Verify Identity]") are the desk's too. Its other "you"s and commands are then
    addressed to the desk as well (see :func:`speaks_to_desk_in`). A passage that only speaks of the user in the third person
    ("The user is shown which rule was broken") may still be written for the user.

    Args:
        sentences: the passage's sentences.
    """
    sentences = list(sentences)
    if any(speaks_to_desk(s) for s in sentences):
        return True
    return (any((_MENTION.search(s) and not _OTHER_READER.search(s)) or _CONSOLE_BUTTON.search(s) for s in sentences)
            and any(is_bare_command(s) for s in sentences))


def speaks_to_desk_in(sentence: str, *, staff_passage: bool) -> bool:
    """:func:`speaks_to_desk`, knowing whether the sentence's passage is written for the desk
    (:func:`written_for_desk`). In such a passage the reader is the desk, so a
    sentence that addresses its reader, with "you" ("Generally, you can only take action on
    pending orders") or as a command ("Investigate if the line is suspended"), is for staff.

    Args:
        sentence: one sentence of guidance.
        staff_passage: whether its passage is written for the desk.
    """
    if speaks_to_desk(sentence):
        return True
    return staff_passage and (bool(_SECOND_PERSON.search(sentence) or _DESK_TOOL.search(sentence))
                              or is_bare_command(sentence))


def mentions_reader(sentence: str) -> bool:
    """Whether the sentence speaks of the user in the third person ("the user", "the customer's")."""
    return bool(_MENTION.search(sentence))


def _present_to_plural(verb: str) -> str | None:
    low = verb.lower()
    if low in _VERB_FORMS:
        return _VERB_FORMS[low]
    if not low.endswith("s") or low.endswith("ss") or len(low) < 4:
        return None
    if low.endswith("ies"):
        return verb[:-3] + "y"
    if low.endswith(("sses", "shes", "ches", "xes", "zes", "oes")):
        return verb[:-2]
    return verb[:-1]


def _capitalise(word: str, like: str) -> str:
    return word[:1].upper() + word[1:] if like[:1].isupper() else word


def to_second_person(sentence: str) -> str | None:
    """``sentence`` said to the user it speaks of, or ``None`` when it cannot be said safely.

    "The user needs to provide a payment method." -> "You need to provide a payment method."
    "If the verification fails, the user may submit again." -> "If the verification fails,
    you may submit again." "the user's" becomes "your"; "they", "their" and "them" after the
    mention become "your" and "you" when no other people are named.

    Args:
        sentence: a guidance sentence that mentions the user in the third person.

    Returns:
        The rewritten sentence; the sentence itself when it has no such mention; ``None``
        when a mention is not one the rules can rewrite (another user may be meant, or the
        word after it is not a verb they know).
    """
    if not mentions_reader(sentence):
        return sentence
    if _SECOND_PERSON.search(sentence) or _OTHER_READER.search(sentence):
        return None
    pieces: list[str] = []
    pos = 0
    first = None
    for mention in _MENTION.finditer(sentence):
        start, end = mention.span()
        said = mention.group(0)
        if said.lower().replace("\u2019", "'").endswith("'s"):
            replacement = "your"
        else:
            before = _LAST_WORD.search(sentence[pos:start] if pieces else sentence[:start])
            before_word = before.group(1).lower() if before else ""
            if not before_word or before_word in _BEFORE_SUBJECT or before_word in ",;:(":
                verb = _VERB_AFTER.match(sentence, end)
                if verb is None:
                    return None
                conjugated = _conjugate(verb.group("verb"), verb.group("next") or "")
                if conjugated is None:
                    return None
                replacement = "you" + (verb.group("adverbs") or "") + " " + conjugated
                end = verb.end("verb")
                # "the user is a gold member or has insurance": every verb of the clause agrees.
                clause = _CLAUSE.match(sentence, end).group(0)
                coordinated = _coordinated_verbs(clause)
                if coordinated is None:
                    return None
                replacement += coordinated
                end += len(clause)
            elif before_word in _BEFORE_OBJECT:
                replacement = "you"
            else:
                return None
        pieces.append(sentence[pos:start])
        first = len("".join(pieces)) if first is None else first
        pieces.append(replacement[:1].upper() + replacement[1:] if said[:1].isupper() else replacement)
        pos = end
    said = "".join(pieces) + sentence[pos:]
    # "they", "their" and "them" after the first mention are the user's ("you" takes the same
    # verb forms as "they"), unless other people or things are named: then they may be theirs
    # ("return the items and pack them"), and are left as they are.
    rest = said[first:]
    if not _OTHER_PEOPLE.search(said) and not _PLURAL_THINGS.search(said):
        rest = _PRONOUN.sub(lambda m: _capitalise(_PRONOUNS[m.group(0).lower()], m.group(0)), rest)
    return said[:first] + rest


_LAST_WORD = re.compile(r"([A-Za-z']+|[,;:(])\s*$")
_VERB_AFTER = re.compile(r"(?P<adverbs>(?:\s+(?:no longer|" + "|".join(sorted(_ADVERBS - {"no", "longer"}))
                         + r"))*)\s+(?P<verb>[A-Za-z']+)(?:\s+(?P<next>[A-Za-z']+)|\s*(?P<stop>[^\sA-Za-z']|$))")
_SIMPLE_MODALS = frozenset("must should can cannot can't may might will won't would could shall".split())
#: Plural things a "they" or "them" may point at: right after a determiner or number ("the
#: items", "3 bags", "extra bags"), or after a verb or preposition that takes them ("has
#: bags"). (Not "the item arrives": a word between could be a noun before its verb.)
_PLURAL_THINGS = re.compile(r"\b(?:the|these|those|their|your|its|all|any|some|both|many|several|other|more|extra|"
                            r"has|have|with|of|for|and|or|\d+)\s+[a-z]+[^\Wsui]s\b", re.IGNORECASE)
_PRONOUNS = {"they": "you", "their": "your", "theirs": "yours", "them": "you", "themselves": "yourself",
             "themself": "yourself"}
_PRONOUN = re.compile(r"\b(?:they|their|theirs|them|themselves|themself)\b", re.IGNORECASE)


_CLAUSE = re.compile(r"[^,;:.!?()]*")
_COORDINATED = re.compile(r"\b(?:and|or)\s+(?:also\s+|still\s+)?([A-Za-z']+)", re.IGNORECASE)


def _coordinated_verbs(clause: str) -> str | None:
    """``clause`` with the verbs joined to the subject by "and" / "or" made plural, or
    ``None`` when a word there may be a verb or a noun ("or flies business", "and gifts")."""
    out, pos = [], 0
    for match in _COORDINATED.finditer(clause):
        word = match.group(1)
        low = word.lower().replace("\u2019", "'")
        if low in _VERB_FORMS:
            out += [clause[pos:match.start(1)], _VERB_FORMS[low]]
            pos = match.end(1)
        elif low.endswith("s") and not low.endswith("ss") and len(low) > 3:
            return None
    return "".join(out) + clause[pos:]


def _conjugate(verb: str, following: str) -> str | None:
    """The verb after "you" for a verb said after "the user", or ``None`` if it may not be a verb."""
    low = verb.lower().replace("\u2019", "'")
    if low in _SIMPLE_MODALS or low.endswith("ed") or low in _IRREGULAR_PAST:
        return verb
    plural = _present_to_plural(verb)
    if plural is None:
        return None
    if low in _VERB_FORMS or not following or following.lower() in _AFTER_VERB:
        return plural
    return None
