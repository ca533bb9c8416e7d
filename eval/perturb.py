"""Reproducible noise for robustness checks: tickets typed in a hurry."""

from __future__ import annotations

import re

_WORD = re.compile(r"[A-Za-z]+")


def with_typos(text: str, min_length: int = 6) -> str:
    """``text`` with the two middle letters of every lower-case word of ``min_length``
    letters or more swapped ("payout" -> "payuot"); names (capitalised) are kept."""

    def swap(match: re.Match) -> str:
        word = match.group(0)
        if len(word) < min_length or not word.islower():
            return word
        i = len(word) // 2
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]

    return _WORD.sub(swap, text)


#: An earlier, already settled exchange of a support thread (~300 tokens) about something no
#: policy covers: greetings, identity checks and a solved display problem.
EARLIER_THREAD = (
    "User: hi, is anyone there? I've been waiting a while. "
    "Agent: Hi, thanks for reaching out and sorry for the wait, my name is Sam and I'll be looking after you today. "
    "Before we start, could you confirm the email address on your account and the country you're in? "
    "User: sure, it's the one on file, and I'm in the UK. "
    "Agent: Thank you, that matches what we have. How can I help? "
    "User: first thing, the app keeps showing my old profile picture even though I changed it yesterday, "
    "and my bio looks cut off on some phones. "
    "Agent: That's usually the app's cache. Could you log out, clear the app cache in your phone settings, "
    "and log back in? The bio shows the first 80 characters on smaller screens, the rest appears when "
    "someone taps 'more'. "
    "User: ok give me a minute. right, the new picture shows now and I see the 'more' link. "
    "Agent: Great, glad that's sorted. Was there anything else today? "
    "User: yes, one more thing, sorry, my sister also says my notifications come in twice. "
    "Agent: No problem at all. Duplicate notifications usually stop after updating to the latest version "
    "of the app, which came out this week. If they still come in twice after the update, reply here and "
    "we'll have a closer look at your device settings together. "
    "User: just updated it, I'll keep an eye on it. thanks Sam, you've been really patient. "
    "Agent: Happy to help! Take your time, I'm still here if you need anything else."
)


def with_long_thread(context: str) -> str:
    """``context`` after :data:`EARLIER_THREAD`: the same ticket at the end of a long thread
    whose first part is settled and unrelated."""
    return f"{EARLIER_THREAD} {context}".strip()


def pasted_into_message(context: str, text: str) -> str:
    """The ticket as one text, as a specialist pasting the whole thread into the ticket box
    would give it: :data:`EARLIER_THREAD`, the ticket's own context, then its message as the
    user's last turn."""
    return " ".join(p for p in (EARLIER_THREAD, context.strip(), f"User: {text}") if p)


_PLAIN_LABEL = re.compile(r"(?:^|(?<=\s))(User|Agent):\s")


def pasted_newest_first(context: str, text: str, *, customer: str = "Jane Doe", agent: str = "Sam",
                        stamped: bool = True) -> str:
    """The thread of :func:`pasted_into_message` as a case feed copies it: newest turn first,
    each labelled with its author, role and time ("Jane Doe (Customer) - Nov 28, 2026, 9:42 AM:"),
    one turn per line, three minutes apart; with ``stamped`` off, labelled "Customer:" and
    "Agent:" only."""
    thread = pasted_into_message(context, text)
    labels = list(_PLAIN_LABEL.finditer(thread))
    turns = [(label.group(1), thread[label.end():nxt.start() if nxt else len(thread)].strip())
             for label, nxt in zip(labels, [*labels[1:], None])]
    lines = []
    for n, (role, said) in enumerate(turns):
        label = "Customer" if role == "User" else "Agent"
        if stamped:
            hour, minute = divmod(9 * 60 + 3 * n, 60)
            name = customer if role == "User" else agent
            label = f"{name} ({label}) - Nov 28, 2026, {hour % 12 or 12}:{minute:02d} {'AM' if hour < 12 else 'PM'}"
        lines.append(f"{label}: {said}")
    return "\n".join(reversed(lines))
