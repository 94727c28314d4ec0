"""The sample corpus and its questions file agree, read through the project's own readers."""

import pytest

from assistant.index.discover import file_format
from assistant.index.readers import read_blocks, reader_for
from assistant.eval.questions import normalise, parse_questions
from tests.conftest import CORPUS, ROOT


def text_of(path) -> str:
    blocks, _ = read_blocks(path, reader_for(path))
    return " ".join(b.text for b in blocks)


def unanswerable(q) -> bool:
    return q.answer.strip().upper() == "UNANSWERABLE"


@pytest.mark.parametrize("corpus", [CORPUS, ROOT / "evalsets" / "pydocs"], ids=["corpus", "pydocs"])
def test_every_answer_is_in_every_listed_source(corpus):
    questions = parse_questions(corpus / "QUESTIONS.md")
    assert len(questions) >= 25
    assert [q.number for q in questions] == list(range(1, len(questions) + 1))
    assert sum(map(unanswerable, questions)) >= 8, "the tool must also learn to say the notes do not say"
    for q in questions:
        if unanswerable(q):
            assert not q.sources, q
            continue
        assert q.sources, q
        for source in q.sources:
            path = corpus / source
            assert path.is_file(), (q.number, source)
            assert normalise(q.answer) in normalise(text_of(path)), (q.number, q.answer, source)


def test_corpus_is_mixed_and_repeats_itself():
    files = [p for p in CORPUS.rglob("*") if p.is_file() and p.name != "QUESTIONS.md"]
    formats = {file_format(p) for p in files}
    assert len(files) >= 40 and {"markdown", "text", "rst", "html", "pdf", "org"} <= formats
    repeated = [q for q in parse_questions(CORPUS / "QUESTIONS.md") if len(q.sources) >= 3]
    assert len(repeated) >= 6, "near-verbatim duplicates across files are what SIFT is for"
