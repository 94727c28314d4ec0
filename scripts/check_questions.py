"""Check a corpus's QUESTIONS.md against the corpus, independently of the project's own readers.

Every answer must occur (case-insensitive, whitespace-normalised) in the text of every listed
source: PDFs are read with pypdf, HTML with BeautifulSoup (script and style dropped), zip containers
(docx, pptx, odt, epub) as the text of their XML members, notebooks as their cells' sources, mail
through the standard email module, everything else as UTF-8 text. Items answered ``UNANSWERABLE`` must
list no sources; that no file answers them is checked by hand (grep), since absence of a fact cannot be
read off a string. Also reports the corpus's files by format and the repeated answers.

    . .venv/bin/activate && python scripts/check_questions.py [corpus ...]   # default: corpus
"""

from __future__ import annotations

import email
import email.policy
import json
import mailbox
import re
import sys
import zipfile
from collections import Counter
from pathlib import Path

from bs4 import BeautifulSoup
from pypdf import PdfReader

HEAD = re.compile(r"^##\s+(\d+)\.\s+(.+?)\s*$")
UNANSWERABLE = "UNANSWERABLE"
FIELD = re.compile(r"^-\s+(answer|sources):\s*(.+?)\s*$", re.IGNORECASE)


def norm(text: str) -> str:
    return " ".join(text.lower().split())


def zipped_text(path: Path) -> str:
    """The text of every XML member, tags dropped, without the project's format knowledge."""
    with zipfile.ZipFile(path) as z:
        members = [n for n in z.namelist() if n.endswith((".xml", ".xhtml", ".html"))]
        return " ".join(BeautifulSoup(z.read(n), "xml").get_text(" ") for n in members)


def mail_text(message) -> str:
    body = message.get_body(preferencelist=("plain", "html"))
    return f"{message['subject']} {body.get_content() if body else ''}"


def text_of(path: Path) -> str:
    if path.suffix in (".docx", ".pptx", ".odt", ".epub"):
        return zipped_text(path)
    if path.suffix == ".ipynb":
        return " ".join("".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"])
    if path.suffix == ".eml":
        return mail_text(email.message_from_bytes(path.read_bytes(), policy=email.policy.default))
    if path.suffix == ".mbox":
        box = mailbox.mbox(str(path), factory=lambda f: email.message_from_binary_file(f, policy=email.policy.default))
        return " ".join(mail_text(m) for m in box)
    if path.suffix == ".pdf":
        return " ".join(page.extract_text() or "" for page in PdfReader(path).pages)
    raw = path.read_text(encoding="utf-8")
    if path.suffix in (".html", ".htm"):
        soup = BeautifulSoup(raw, "html.parser")
        for tag in soup(["script", "style"]):
            tag.decompose()
        return soup.get_text(" ")
    return raw


def parse(path: Path) -> list[dict]:
    items: list[dict] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if m := HEAD.match(line):
            items.append({"n": int(m.group(1)), "q": m.group(2)})
        elif (m := FIELD.match(line)) and items:
            key, value = m.group(1).lower(), m.group(2)
            items[-1][key] = value if key == "answer" else [s.strip() for s in value.split(",") if s.strip()]
    return items


def check(corpus: Path) -> int:
    print(f"{corpus}:")
    items = parse(corpus / "QUESTIONS.md")
    errors: list[str] = []
    if [q["n"] for q in items] != list(range(1, len(items) + 1)):
        errors.append("questions are not numbered 1..N in order")
    cache: dict[Path, str] = {}
    for q in items:
        if q.get("answer", "").strip().upper() == UNANSWERABLE:
            if q.get("sources"):
                errors.append(f"{q['n']}: UNANSWERABLE but lists sources")
            continue
        if not q.get("answer") or not q.get("sources"):
            errors.append(f"{q['n']}: missing answer or sources")
            continue
        for source in q["sources"]:
            path = corpus / source
            if not path.is_file():
                errors.append(f"{q['n']}: no such file {source}")
                continue
            if path not in cache:
                cache[path] = norm(text_of(path))
            if norm(q["answer"]) not in cache[path]:
                errors.append(f"{q['n']}: {q['answer']!r} not in {source}")
    skip = {"QUESTIONS.md", ".assistantignore", *ignored_names(corpus)}
    files = [p for p in corpus.rglob("*") if p.is_file() and p.name not in skip]
    formats = Counter(p.suffix.lstrip(".") for p in files)
    print(f"{len(files)} files: " + ", ".join(f"{n} {ext}" for ext, n in formats.most_common()))
    unanswerable = sum(q.get("answer", "").strip().upper() == UNANSWERABLE for q in items)
    print(
        f"{len(items)} questions: {len(items) - unanswerable} answerable, {unanswerable} unanswerable; "
        f"{sum(len(q.get('sources', [])) >= 2 for q in items)} with 2+ sources, "
        f"{sum(len(q.get('sources', [])) >= 3 for q in items)} with 3+"
    )
    for e in errors:
        print("FAIL", e)
    print("OK" if not errors else f"{len(errors)} problems")
    return 1 if errors else 0


def ignored_names(corpus: Path) -> list[str]:
    """Plain file names listed in the corpus's .assistantignore (patterns are not expanded)."""
    path = corpus / ".assistantignore"
    if not path.is_file():
        return []
    return [l.strip() for l in path.read_text(encoding="utf-8").splitlines() if l.strip() and not l.startswith("#")]


def main() -> int:
    corpora = [Path(a) for a in sys.argv[1:]] or [Path(__file__).resolve().parent.parent / "corpus"]
    return max(check(corpus) for corpus in corpora)


if __name__ == "__main__":
    sys.exit(main())
