"""Whom a guidance sentence speaks to, and a rule about "the user" said to the user."""

from __future__ import annotations

import pytest

from kb.drafting.voice import (is_bare_command, mentions_reader, speaks_to_desk, speaks_to_desk_in,
                              to_second_person, written_for_desk)

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


@pytest.mark.parametrize("sentence", [
    "Investigate if the line is suspended.",
    "Check the bill status to make sure it is overdue.",
    "To do so you need to follow these steps: Check the bill amount due.",
    "If the user accepts the request, use the make_payment tool to pay.",
    "In particular, remember to remind the customer to confirm the items.",
    "Then verify the account email.",
    "Respond with warmth and without judgment.",
])
def test_commands_are_recognised(sentence):
    assert is_bare_command(sentence) or "you" in sentence


@pytest.mark.parametrize("sentence", [
    "Document retention is 90 days.",          # a noun that is also a command verb
    "Check your spam folder for the code.",    # a command to "you": the reader's own
    "Refunds reach the card within 5 days.",
    "Note: fees apply to late payments.",
])
def test_statements_and_commands_to_you_are_not_bare_commands(sentence):
    assert not is_bare_command(sentence)


STAFF_SECTION = ["If the user has an overdue bill, the account is locked.",
                 "Investigate if the account is also suspended.",
                 "A locked account is unlocked within one hour of the payment."]


def test_a_passage_with_commands_about_the_user_in_the_third_person_is_for_the_desk():
    assert written_for_desk(STAFF_SECTION)
    assert written_for_desk(["You can help the user pay a bill.", "Bills are due monthly."])
    # Speaking of "the user" alone is not enough: user-facing policies do ("The user is shown which rule was broken").
    assert not written_for_desk(["The user is shown which rule was broken.", "Strikes expire after 90 days."])
    # Nor are commands alone: a help page commands its reader.
    assert not written_for_desk(["Open Settings.", "Check the status of the refund under Purchases."])


@pytest.mark.parametrize("sentence", [
    "Investigate if the account is also suspended.",
    "Generally, you can only take action on pending or delivered orders.",
    "You should always check that the bill is overdue before sending a payment request.",
    "The send payment request tool will not check if the bill is overdue.",
    "The agent will not be able to modify the order anymore.",
])
def test_in_a_passage_for_the_desk_its_you_and_its_commands_are_the_desks(sentence):
    assert speaks_to_desk_in(sentence, staff_passage=True)
    assert not speaks_to_desk(sentence)


def test_outside_a_passage_for_the_desk_you_is_the_user():
    assert not speaks_to_desk_in("You can appeal a strike within 30 days.", staff_passage=False)
    assert not speaks_to_desk_in("A locked account is unlocked within one hour of the payment.", staff_passage=True)


@pytest.mark.parametrize("sentence", [
    "The customer wants to check up on the status of their shipment.",
    "The customer is complaining about a promo code that is considered invalid.",
    "The customer is adding an extra item to their existing refund.",
    "The customer will give the reason the competitor has a better price.",
])
def test_the_case_told_to_the_desk_is_not_told_to_the_user(sentence):
    # ABCD's agent guidelines open each procedure with the case it handles.
    assert speaks_to_desk(sentence)


@pytest.mark.parametrize("sentence", [
    "If the customer wants to leave, they can close the account in Settings.",
    "The customer will receive an email with the return label.",
])
def test_rules_about_what_the_user_wants_are_not_the_case(sentence):
    assert not speaks_to_desk(sentence)


def test_they_after_the_user_is_the_user():
    assert (to_second_person("The customer must wait until the item arrives, then they can return it.")
            == "You must wait until the item arrives, then you can return it.")
    # With other people or things named, "they" and "them" may be them.
    assert (to_second_person("Followers can see the user's posts, and they can comment on them.")
            == "Followers can see your posts, and they can comment on them.")
    assert (to_second_person("The user must return the items and pack them securely.")
            == "You must return the items and pack them securely.")
    assert to_second_person("The user's orders ship when they are ready.") == "Your orders ship when they are ready."


@pytest.mark.parametrize("sentence", [
    "Email Address; Order ID; Enter the details into the form.",        # list items read as one sentence
    "If the item is delivered > Move onto the next step.",               # a flow's arrow
    "(Only if the order exists) Find out whether it has shipped.",
    "If nothing works, just apologize and end the conversation.",
])
def test_commands_inside_a_sentence_are_found(sentence):
    assert is_bare_command(sentence)


def test_console_buttons_and_commands_make_a_passage_for_the_desk():
    steps = ["Start by looking up the order with [Verify Identity].", "Orders ship within 2 days."]
    assert written_for_desk(steps)
    assert speaks_to_desk_in("Then click [Offer Refund] for the amount.", staff_passage=True)
    # Brackets alone, or commands alone, are not enough.
    assert not written_for_desk(["See [Shipping] for the rates.", "Orders ship within 2 days."])
