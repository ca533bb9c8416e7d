"""Title linking: conversations naming documents."""

from kb.linking import TitleLinker

TITLES = ["Grant Hotel (hotel)", "Union Square (attraction)", "Super Duper Burgers - Union Square (restaurant)",
          "Laurel Inn, a Joie de Vivre Hotel (hotel)", "RESTAURANT ONE SEVEN (restaurant)", "Inn San Francisco (hotel)",
          "San Francisco Zoo (attraction)", "Creator Fund payouts", "Account recovery and hacked accounts"] + [
          f"Filler Place {i} San Francisco (hotel)" for i in range(60)]


def titles(conversation: str) -> list[str]:
    return [link.title for link in TitleLinker(TITLES).link(conversation)]


def test_named_entity_in_earlier_turn_is_linked_despite_typos():
    assert titles("i found the grant hotel on bush street || what is the chek in time")[0] == "Grant Hotel (hotel)"
    assert titles("about my creator fund payuots, when do they arrive")[0] == "Creator Fund payouts"


def test_longer_mention_wins_over_the_name_inside_it():
    assert titles("there is super duper burgers union square do they deliver") == [
        "Super Duper Burgers - Union Square (restaurant)"]


def test_head_of_a_subtitled_title_is_an_alias():
    assert titles("it's called the laurel inn in pacific heights") == ["Laurel Inn, a Joie de Vivre Hotel (hotel)"]


def test_spoken_numbers_and_common_words_do_not_link():
    assert titles("the phone number is four one five seven five three one seven") == []
    assert titles("is there a restaurant nearby in san francisco") == []


def test_common_word_titles_link_only_when_said_in_full():
    assert titles("it's called inn san francisco, do they have wifi") == ["Inn San Francisco (hotel)"]


def test_latest_mention_ranks_first():
    linked = titles("we saw the san francisco zoo earlier. now about the grant hotel: parking?")
    assert linked[0] == "Grant Hotel (hotel)"


def test_a_number_alone_names_no_title():
    # Evaluation corpora without titles fall back to their ids ("14"); amounts and days in a
    # ticket must not link them, while a name with its number still links.
    linker = TitleLinker(["14", "Pier 39 (attraction)", "Pier 45 (attraction)", "Refund policy"])
    assert linker.link("my refund is 14 days late") == []
    assert [l.title for l in linker.link("we are near pier 39, any parking?")] == ["Pier 39 (attraction)"]
