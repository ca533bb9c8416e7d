from eval.perturb import with_typos


def test_long_lower_case_words_get_their_middle_letters_swapped_names_are_kept():
    assert with_typos("My payout is on hold, Selene says escalate") == "My payuot is on hold, Selene says escaalte"
    assert with_typos("short words stay") == "short words stay"
