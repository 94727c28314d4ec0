import math

from assistant.eval.stats import mean_se, paired, pearson, split_files
from assistant.eval.questions import contains_answer, parse_questions


def test_split_is_deterministic_and_disjoint():
    files = [f"doc{i}.rst" for i in range(50)]
    data, test = split_files(files, 10, seed=0)
    assert (data, test) == split_files(list(reversed(files)), 10, seed=0)
    assert len(test) == 10 and not set(data) & set(test) and set(data) | set(test) == set(files)
    assert split_files(files, 10, seed=1)[1] != test


def test_mean_se_and_paired():
    mean, se, n = mean_se([1.0, 2.0, 3.0, 4.0])
    assert (mean, n) == (2.5, 4) and math.isclose(se, math.sqrt(1.6666666666666667 / 4))
    assert paired([1.0, 1.0, 3.0], [2.0, 2.0, 2.0])[3] == 2
    assert math.isclose(pearson([1, 2, 3, 4], [2, 4, 6, 8]), 1.0)


def test_questions_markdown_and_matching(tmp_path):
    path = tmp_path / "Q.md"
    path.write_text("# Questions\n\n## 1. Which DB?\n- answer: SQLite\n- sources: a.md, `b/c.md`\n\n## 2. When?\n- answer: 07:40\n- sources: t.txt\n")
    qs = parse_questions(path)
    assert [(q.number, q.answer, q.sources) for q in qs] == [(1, "SQLite", ("a.md", "b/c.md")), (2, "07:40", ("t.txt",))]
    assert contains_answer("They moved to **SQLite** in March.", "sqlite")
    assert not contains_answer("They moved to Postgres.", "SQLite")
