"""Grounded answers without the LLM: the loop guard, evidence lines, attribution, and odd input."""

from pathlib import Path

import pytest

from assistant.answer.attribute import attribute, facts
from assistant.answer.evidence import extract_evidence, split_units
from assistant.answer.loops import LoopGuard
from assistant.records import Pick


def stream(guard: LoopGuard, text: str, step: int = 3) -> str:
    shown = "".join(guard.feed(text[i : i + step]) for i in range(0, len(text), step))
    return shown + guard.flush()


def test_the_loop_guard_never_shows_a_repeat():
    guard = LoopGuard()
    shown = stream(guard, "The backup runs at 02:30. It keeps 30 copies. The backup runs at 02:30. It keeps 30")
    assert shown == "The backup runs at 02:30. It keeps 30 copies. " and guard.stopped


def test_a_repeat_cut_off_by_the_token_budget_is_not_shown_either():
    guard = LoopGuard()
    shown = stream(guard, "The backup runs at 02:30 every night. The backup runs at 02")
    assert shown == "The backup runs at 02:30 every night. " and guard.stopped


def test_a_repeat_with_a_citation_in_front_is_a_repeat():
    guard = LoopGuard()
    shown = stream(guard, "At 20 °C the factor would be 1.91. [2] At 20 °C the factor would be 1.91.")
    assert shown == "At 20 °C the factor would be 1.91. " and guard.stopped


def test_the_loop_guard_passes_an_answer_without_repeats_whole():
    text = "Heron moved to SQLite [1].\nThe Pi ran out of memory. Yes. Yes."
    guard = LoopGuard()
    assert stream(guard, text) == text and not guard.stopped


def pick(path: str, text: str, heading: str = "", start: int = 1, chunk_id: int = 1) -> Pick:
    return Pick(rank=chunk_id, chunk_id=chunk_id, path=path, start_line=start, end_line=start + text.count("\n"),
                heading=heading, similarity=0.5, variance=0.5, previous=1.0, prior=1.0, text=text)  # fmt: skip


@pytest.fixture
def notes(tmp_path) -> Path:
    (tmp_path / "trip.md").write_text("# Lisbon\n\n## Flights\n\nWe fly with TAP.\nTAP flight TP753 leaves Copenhagen\nat 07:40 on 2024-06-14.\n")
    (tmp_path / "mail.txt").write_text("Hi Jonas,\nTAP flight TP753 leaves Copenhagen at 07:40 on 2024-06-14.\n")
    return tmp_path


def test_evidence_finds_the_line_with_its_file_and_merges_copies(embedder, notes):
    trip = pick(str(notes / "trip.md"), "We fly with TAP.\nTAP flight TP753 leaves Copenhagen\nat 07:40 on 2024-06-14.",
                "Lisbon > Flights", start=5, chunk_id=1)  # fmt: skip
    mail = pick(str(notes / "mail.txt"), "Hi Jonas,\nTAP flight TP753 leaves Copenhagen at 07:40 on 2024-06-14.", chunk_id=2)
    lines = extract_evidence("What time does the TAP flight leave Copenhagen?", [trip, mail], embedder)
    assert "07:40" in lines[0].text
    assert sorted(Path(f).name for f in lines[0].files) == ["mail.txt", "trip.md"]  # one fact, two files
    for e in lines:  # a wrapped sentence is read whole and points at the file line it starts on
        if Path(e.path).name == "trip.md":
            assert e.line == (6 if "07:40" in e.text else 5)
    assert lines[0].location().endswith(f":{lines[0].line}")


def test_a_warm_process_embeds_a_chunk_once_and_ranks_it_the_same(embedder, notes):
    """The server and the TUI ask about the same notes again: the second ask embeds only the question."""
    trip = pick(str(notes / "trip.md"), "We fly with TAP.\nTAP flight TP753 leaves Copenhagen\nat 07:40 on 2024-06-14.",
                "Lisbon > Flights", start=5, chunk_id=7)  # fmt: skip
    seen: list[str] = []

    class Counting:  # the real embedder, counting the texts it is given
        name, dim = embedder.name, embedder.dim

        def embed(self, texts):
            seen.extend(texts)
            return embedder.embed(texts)

    counting = Counting()
    first = extract_evidence("When does the TAP flight leave?", [trip], counting)
    assert len(seen) > 1
    seen.clear()
    again = extract_evidence("Which airline do we fly with?", [trip], counting)
    assert seen == ["Which airline do we fly with?"]
    fresh = extract_evidence("Which airline do we fly with?", [trip], embedder)
    assert [(e.text, round(e.score, 5)) for e in again] == [(e.text, round(e.score, 5)) for e in fresh]
    assert first and again[0].text != first[0].text  # the cache did not freeze the ranking


@pytest.mark.parametrize("text", [
    "id,value\n1,2\n3,4\n5,6",  # a table, no sentence punctuation
    "x" * 10_000,  # a 10,000-character line
    "مرحبا بكم في الملاحظات. الرحلة تغادر في الساعة 07:40.",  # right-to-left
    "東京への便は午前七時四十分に出発します。ホテルは駅の近くです。",  # CJK
])
def test_evidence_survives_odd_text(embedder, tmp_path, text):
    lines = extract_evidence("when does it leave", [pick(str(tmp_path / "gone.md"), text)], embedder)
    assert all(len(e.text) <= 300 for e in lines)
    assert all("could not be read" in e.note for e in lines)  # the file was deleted since indexing


def test_split_units_joins_wrapped_lines_and_drops_bylines():
    units = split_units("Notes: Maya.\nThe deductible is\n1,500 SEK for each claim.\n\n- item one with 3 words")
    assert [u for _, u in units] == ["The deductible is 1,500 SEK for each claim.", "item one with 3 words"]
    assert [o for o, _ in units] == [1, 4]


def test_a_wrapped_list_item_is_read_whole_and_a_number_opens_its_sentence():
    text = ("- For Kestrel the contact is Ingrid's team, not the\n  general support line.\n- Page on-call for gaps.\n"
            "\n1. Open incidents and their state.\n# Heading\nnot part of the heading")  # fmt: skip
    assert [u for _, u in split_units(text)] == [
        "For Kestrel the contact is Ingrid's team, not the general support line.", "Page on-call for gaps.",
        "1. Open incidents and their state.", "not part of the heading"]  # fmt: skip  (a one-word heading says nothing)


def test_a_term_and_its_indented_definition_are_one_unit_and_wrapped_numbers_stay_in_their_sentence():
    """reST writes a default in the signature and the subject in the line above the value; a wrapped line may open
    with "45." or a role and still continue its sentence."""
    text = (".. function:: timeit(stmt='pass', number=1000000)\n\n   Run the statement *number* times.\n"
            "   The length of *data* should be at most\n   45. If *hide* is true, the names\n"
            "   :attr:`curdir` are hidden.\n\n.. option:: --json-lines\n\n   Parse every input line.\n\n"
            "Steps:\n1. Mix the flour\n2. Add water and salt")  # fmt: skip
    assert [u for _, u in split_units(text)] == [
        ".. function:: timeit(stmt='pass', number=1000000) Run the statement *number* times.",
        "The length of *data* should be at most 45.", "If *hide* is true, the names :attr:`curdir` are hidden.",
        ".. option:: --json-lines Parse every input line.", "1. Mix the flour", "2. Add water and salt"]  # fmt: skip
    assert [o for o, _ in split_units(text)][:3] == [0, 3, 4]  # the signature's line, where the source opens


def test_the_sentences_of_a_definition_keep_its_term_as_their_subject():
    from assistant.answer.evidence import _sentences

    text = (".. class:: Repr()\n\n   Formatting services.\n\n   .. attribute:: Repr.maxstring\n\n"
            "      Limit on the characters.  The default is ``30``.\n\n      More on the limit here.\n\n"
            "   Back in the class body.\n\n"
            "Top level again, outside it.")  # fmt: skip
    assert [(unit, subject) for _, unit, subject in _sentences(text)] == [
        (".. class:: Repr() Formatting services.", ""),
        (".. attribute:: Repr.maxstring Limit on the characters.", ".. class:: Repr()"),
        ("The default is ``30``.", ".. attribute:: Repr.maxstring"),
        ("More on the limit here.", ".. attribute:: Repr.maxstring"),
        ("Back in the class body.", ".. class:: Repr()"), ("Top level again, outside it.", "")]  # fmt: skip


def test_a_signature_continued_with_a_backslash_is_one_term():
    from assistant.answer.evidence import _sentences

    text = (".. class:: HTTPSConnection(host, port=None, \\\n                           blocksize=8192)\n\n"
            "   A subclass that uses SSL.  Default port is ``443``.")  # fmt: skip
    assert [(o, unit, subject) for o, unit, subject in _sentences(text)] == [
        (0, ".. class:: HTTPSConnection(host, port=None, blocksize=8192) A subclass that uses SSL.", ""),
        (3, "Default port is ``443``.", ".. class:: HTTPSConnection(host, port=None, blocksize=8192)")]


def test_a_question_for_a_default_favours_the_line_that_sets_its_word():
    from assistant.answer.evidence import default_settings

    lines = [".. class:: mmap(fileno, length, flags=MAP_SHARED, prot=PROT_READ)", "*flags* specifies the mapping.",
             "level=9 compresses most."]  # fmt: skip
    assert default_settings("Which flags does mmap use if flags is not given?", lines).tolist() == [1.0, 0.0, 0.0]
    assert default_settings("What is the default compression level?", lines).tolist() == [0.0, 0.0, 1.0]
    assert default_settings("Which flags does mmap take?", lines).tolist() == [0.0, 0.0, 0.0]  # no default asked
    text = ".. class:: mmap(fileno, flags=MAP_SHARED)\n   :noindex:\n\n   Maps *length* bytes of the file."
    assert [u for _, u in split_units(text)] == [
        ".. class:: mmap(fileno, flags=MAP_SHARED) Maps *length* bytes of the file."]


def test_a_changed_time_is_flagged_and_a_copied_one_is_not(embedder, notes):
    source = pick(str(notes / "mail.txt"), "TAP flight TP753 leaves Copenhagen at 07:40 on 2024-06-14.")
    lines = extract_evidence("When does the flight leave?", [source], embedder)
    wrong, right = attribute("The TAP flight leaves Copenhagen at 08:45 [1].\nIt leaves at 07:40 on 2024-06-14 [1].",
                             lines, [source], embedder)  # fmt: skip
    assert not wrong.supported and wrong.unsupported == ["08:45"]
    assert right.supported and right.unsupported == [] and right.cite == 1


def test_facts_are_numbers_codes_paths_and_names():
    found = facts("Ask Ingrid Halvorsen about TP753 at 07:40 in /srv/heron/heron.db [2].")
    assert {"Ingrid Halvorsen", "TP753", "07:40", "/srv/heron/heron.db"} <= set(found) and "2" not in found


def test_exact_copies_collapse_to_one_candidate_that_remembers_its_files():
    from assistant.core.asker import distinct

    keys = {1: ("a", "/n/x.md"), 2: ("a", "/n/y.md"), 3: ("b", "/n/x.md"), 4: ("a", "/n/z.md"), 5: ("c", "/n/w.md")}
    keep, copies = distinct([1, 2, 3, 9, 4, 5], keys, k=2)  # 9: in the index, gone from the store
    assert keep == [1, 3] and copies == {1: ["/n/y.md", "/n/z.md"]}


def test_the_quoted_opening_is_the_notes_own_words_and_never_flagged(embedder, notes):
    trip = pick(str(notes / "trip.md"), "We fly with TAP.\nTAP flight TP753 leaves Copenhagen\nat 07:40 on 2024-06-14.",
                "Lisbon > Flights", start=5)  # fmt: skip
    lines = extract_evidence("When does the TAP flight leave?", [trip], embedder)
    opening = f"“{lines[0].text}” [1]\n\n"
    answer = opening + "It leaves at 08:45."
    plain = attribute(answer, lines, [trip], embedder)
    quoted = attribute(answer, lines, [trip], embedder, opening=opening)
    assert [c.text for c in quoted] == [c.text for c in plain]
    assert quoted[0].supported and quoted[0].cite == 1 and quoted[0].score == 1.0
    assert not quoted[-1].supported and quoted[-1].unsupported == ["08:45"]  # what the model added is still checked
