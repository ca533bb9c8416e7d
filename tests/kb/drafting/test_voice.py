"""Whom a guidance sentence speaks to, and a rule about "the user" said to the user."""

from __future__ import annotations

import pytest

from kb.drafting.voice import mentions_reader, speaks_to_desk, to_second_person

TO_THE_DESK = [
    "The agent must also obtain the reason for cancellation.",
    "If any part of the trip has already been flown, the agent cannot help and a transfer is needed.",
    "The representatives should confirm the booking reference first.",
    "If the line is roaming and data fails, guide them to use toggle_roaming() to switch roaming on.",
    "can_send_mms() on the phone shows whether the problem is on the device.",
    "The API does not check the refund rules, so check them before calling it.",
    "This action can only be called once per order.",
    "You should check that the line the user gave is enabled for roaming.",
    "As an airline agent, you can help users book or cancel flights.",
    "Ask the customer for the order number before changing anything.",
    "If the order is late, then tell the user the new delivery date.",
    "This section explains for agents how to troubleshoot picture messages.",
    "An order can only be returned once delivered, and you should check its status before taking the action.",
    "For a pending order, you can take actions to change its address.",
]
TO_THE_USER = [
    "The agent at the gate will weigh your bag.",
    "If a friend is struggling, ask them how they are doing.",
    "Check your spam folder for the code.",
    "If a user reports you, the user is not told who you are.",
    "Call us when the action is complete.",
    "Refunds reach the original payment method within 5 to 7 business days.",
    "Our agents at the airport can rebook missed connections.",
    "If you see harassment, take action by reporting it.",
    "We may take action against accounts that break the rules.",
    "The agent will call back within 24 hours.",
    "Please wait for the agent to join the chat.",
]


@pytest.mark.parametrize("sentence", TO_THE_DESK)
def test_instructions_to_staff_are_recognised(sentence):
    assert speaks_to_desk(sentence)


@pytest.mark.parametrize("sentence", TO_THE_USER)
def test_sentences_for_the_user_are_not_mistaken_for_staff_instructions(sentence):
    assert not speaks_to_desk(sentence)


@pytest.mark.parametrize(("sentence", "said_to_the_user"), [
    ("The user needs to provide a payment method to receive the refund.",
     "You need to provide a payment method to receive the refund."),
    ("If the verification fails, the user may submit again after 24 hours; after 3 tries, it locks.",
     "If the verification fails, you may submit again after 24 hours; after 3 tries, it locks."),
    ("A blocked account can no longer view the user's profile.", "A blocked account can no longer view your profile."),
    ("Data roaming allows the user to use their phone's data outside their home network (e.g. abroad).",
     "Data roaming allows you to use your phone's data outside your home network (e.g. abroad)."),
    ("Lost access: the user no longer controls the login email.", "Lost access: you no longer control the login email."),
    ("The customer still has 30 days to return it.", "You still have 30 days to return it."),
    ("If the user is a gold member and has insurance, the $50 fee is waived.",
     "If you are a gold member and have insurance, the $50 fee is waived."),
    ("The user must provide their user id.", "You must provide your user id."),
    ("When the caller booked through a partner, the caller's refund goes to the partner.",
     "When you booked through a partner, your refund goes to the partner."),
    ("2SV is reset; the user is prompted to enable 2SV again.", "2SV is reset; you are prompted to enable 2SV again."),
    ("The user wishes to cancel; the user's 24-hour window applies.", "You wish to cancel; your 24-hour window applies."),
    ("Followers can see the user's posts, and they can comment on them.",
     "Followers can see your posts, and they can comment on them."),
    ("No reader mentioned here.", "No reader mentioned here."),
])
def test_rules_about_the_user_are_said_to_the_user(sentence, said_to_the_user):
    assert to_second_person(sentence) == said_to_the_user


@pytest.mark.parametrize("sentence", [
    "The user id is shown on the profile.",                       # a compound noun, not the reader acting
    "If a user reports you, the user is not told.",                # another user
    "Only compensate if the user is a member or flies business.",  # "flies": verb or noun, unknown
    "The user buys coins and gifts.",
    "Messages from accounts that do not follow the user are hidden.",  # object of a verb not on the list
    "A formal request is needed when the user wants information.",  # "wants information": not sure it is a verb
])
def test_a_mention_the_rules_cannot_parse_is_left_alone(sentence):
    assert mentions_reader(sentence)
    assert to_second_person(sentence) is None
