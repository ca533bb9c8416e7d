from eval.perturb import with_typos


def test_long_lower_case_words_get_their_middle_letters_swapped_names_are_kept():
    assert with_typos("My payout is on hold, Selene says escalate") == "My payuot is on hold, Selene says escaalte"
    assert with_typos("short words stay") == "short words stay"


def test_a_case_feed_lists_the_thread_newest_first_with_names_roles_and_rising_times():
    from eval.perturb import pasted_newest_first

    feed = pasted_newest_first("User: my payout is on hold. Agent: Checking.", "how long will it take?").splitlines()
    assert feed[0] == "Jane Doe (Customer) - Nov 28, 2026, 9:42 AM: how long will it take?"
    assert feed[1] == "Sam (Agent) - Nov 28, 2026, 9:39 AM: Checking."
    assert feed[-1].startswith("Jane Doe (Customer) - Nov 28, 2026, 9:00 AM: hi, is anyone there?")
    assert len(feed) == 15


def test_a_feed_without_stamps_has_role_labels_only():
    from eval.perturb import pasted_newest_first

    feed = pasted_newest_first("", "how long will it take?", stamped=False).splitlines()
    assert feed[0] == "Customer: how long will it take?" and feed[-1] == "Customer: hi, is anyone there? I've been waiting a while."
    assert all(line.startswith(("Customer: ", "Agent: ")) for line in feed)
