"""The second abstention signal: a number, date or name the question pins down and no close line mentions."""

from assistant.answer.coverage import NO_NUMBER, abstains, specifics, unmentioned
from assistant.records import Evidence, Pick


def line(text: str, heading: str = "", chunk_id: int = 1) -> Evidence:
    return Evidence(text, "/notes/a.md", 1, heading, 0.8, chunk_id)


def pick(text: str, heading: str = "", chunk_id: int = 1) -> Pick:
    return Pick(1, chunk_id, "/notes/a.md", 1, 3, heading, 0.8, 0.5, 1.0, 1.0, text=text)


def test_specifics_are_numbers_dates_and_names_not_question_words():
    values, names = specifics("What was the measured availability of the Heron Pi in Q4 2024?")
    assert values == {"q4", "2024"} and names == {"heron", "pi"}
    assert specifics("How long does the dough rest?") == (set(), set())
    assert specifics("What is the default level of zlib.compress?")[1] == {"zlib.compress"}


def test_a_quarter_the_line_does_not_mention_is_missing_and_the_right_one_is_not():
    lines = [line("Measured availability of the Heron Pi in Q3 was 99.7 percent.")]
    assert unmentioned("What was the availability of the Heron Pi in Q4?", lines, []) == ["q4"]
    assert unmentioned("What was the availability of the Heron Pi in Q3?", lines, []) == []


def test_an_iso_date_answers_a_month_and_a_heading_counts():
    lines = [line("On 2024-03-12 the team moved the database to SQLite.", heading="Heron")]
    assert unmentioned("What database did Heron move to in March 2024?", lines, []) == []
    assert unmentioned("What database did Heron move to in May 2024?", lines, []) == ["may"]


def test_names_are_checked_against_every_pick_numbers_only_against_the_top_lines():
    lines = [line("Seats 14A and 14B on the way out.")]
    picks = [pick("Maya and Jonas fly to Lisbon on 2024-06-14.")]
    assert unmentioned("Which seats did Maya have to Lisbon?", lines, picks) == []
    assert unmentioned("Which seats did Maya have to Porto?", lines, picks) == ["porto"]
    assert unmentioned("Which seats did Maya have in row 30?", lines, picks) == ["30"]
    far = [line(f"Line {i} about seats.") for i in range(3)] + [line("Row 30 is at the back.")]
    assert unmentioned("Which seats are in row 30?", far, []) == ["30"]  # only the lines the user is shown


def test_the_rule_takes_either_signal_and_each_can_be_off():
    assert abstains(0.2, [], 0.3) and not abstains(0.5, [], 0.3)
    assert abstains(0.9, ["q4"], 0.3) and not abstains(0.9, ["q4"], 0.3, check_unmentioned=False)
    assert not abstains(0.0, [], 0.0)  # 0 turns the score floor off


def test_documentation_names_code_by_its_parts_and_a_version_is_a_number():
    docs = [pick(".. function:: compress(data, /, level=-1, wbits=MAX_WBITS)", heading="zlib — Compression")]
    assert unmentioned("What is the default level of zlib.compress?", [], docs) == []
    assert unmentioned("What is the default level of zstd.compress?", [], docs) == ["zstd.compress"]
    assert specifics("Which salt length does BLAKE2b allow since Python 3.8?") == ({"3.8"}, {"blake2b", "python"})


def test_a_rare_name_must_be_in_the_best_lines_own_note_and_a_background_name_in_any_pick():
    """The travel insurance line is the closest to a question about the Volvo's insurance; its note never
    says Volvo, while another pick (the car's note) does. Maya runs through the notes and may sit elsewhere."""
    travel = "Insurer: Nordvakt. Deductible 1,500 SEK per claim."
    best = [line("Deductible 1,500 SEK per claim.", heading="Travel insurance", chunk_id=1)]
    picks = [pick(travel, "Travel insurance", chunk_id=1), pick("The Volvo: service, tyres, insurance.", chunk_id=2)]
    question = "What is the deductible of the Volvo's insurance with Nordvakt?"
    assert unmentioned(question, best, picks, {"volvo": 0.02, "nordvakt": 0.02}) == ["volvo"]
    assert unmentioned(question, best, picks, {"volvo": 0.3, "nordvakt": 0.02}) == []  # background: a pick will do
    assert unmentioned(question, best, picks) == []  # without shares every name is background
    assert unmentioned("What is the deductible with Nordvakt?", best, picks, {"nordvakt": 0.02}) == []


def test_a_question_asking_for_a_number_needs_one_in_the_best_line_beyond_its_own():
    janne = [line("Mechanic at Mekonomen Majorna: Janne.")]
    assert unmentioned("What is the phone number of Janne?", janne, []) == [NO_NUMBER]
    assert unmentioned("What is the phone number of Janne?", [line("Janne: 031-12 34 56.")], []) == []
    cellar = [line("Storage: cellar room 14-C, padlock code in the password manager.")]
    assert unmentioned("What is the padlock code for cellar room 14-C?", cellar, []) == [NO_NUMBER]
    assert unmentioned("What is the code of the key box?", [line("The key box has code LX-4827.")], []) == []
    assert unmentioned("Who signed the letter?", janne, []) == []  # not a question for a number


def test_the_abstention_says_what_the_close_lines_lack():
    from assistant.core.asker import ABSTAIN_TEXT, abstain_text

    assert abstain_text([]) == ABSTAIN_TEXT
    assert "no close line mentions “q4”, “volvo”" in abstain_text(["q4", "volvo"])
    both = abstain_text([NO_NUMBER, "volvo"])
    assert "gives no reference" in abstain_text(["a reference"])
    assert "“volvo”" in both and "the closest line gives no number" in both and "“a number”" not in both


def test_a_question_asking_for_a_reference_needs_one_in_the_best_line():
    """The hotel's price line is the closest to its booking reference, and holds numbers, but no reference."""
    from assistant.answer.coverage import NO_REFERENCE

    price = [line("Airport hotel: Clarion Hotel Copenhagen Airport, 1,390 DKK for one night, booked for the 13th.")]
    question = "What is the booking reference of the Clarion Hotel Copenhagen Airport?"
    assert unmentioned(question, price, []) == [NO_REFERENCE]
    assert unmentioned(question, [line("Clarion Hotel Copenhagen Airport, booking reference CL-20931.")], []) == []
    assert unmentioned("What is the serial number of the sensor?", [line("Sensor: 4471952, installed May.")], []) == []
    assert unmentioned("What is the serial number of the sensor?", [line("Sensor installed on the 3rd, 2kg.")], []) \
        == [NO_REFERENCE]  # fmt: skip


def test_words_that_only_look_like_specifics_are_not_required():
    """"may be" is no month, "by code in which module" asks for no code; a hyphenated name is read by its parts."""
    assert specifics("Which dbm module may back a shelf?") == (set(), set())
    assert specifics("What did the service cost in May?") == ({"may"}, set())
    warn = [line("DeprecationWarning is shown when triggered by code in __main__.")]
    assert unmentioned("DeprecationWarning is shown by default for code in which module?", warn, []) == []
    server = [line("Below is an example of an HTTP server that avoids KeyboardInterrupt.", heading="Example")]
    picks = [pick("On SIGINT the server stays safe. Below is an example of an HTTP server.", "Example")]
    assert unmentioned("Which class does the SIGINT-safe server use?", server, picks, {"sigint-safe": 0.0}) == []
    assert unmentioned("Which class does the SIGHUP-safe server use?", server, picks, {"sighup-safe": 0.0}) == [
        "sighup-safe"]  # fmt: skip
