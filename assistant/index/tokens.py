"""The LLM's tokenizer, for chunk budgets. Extracted from the GGUF once, then loaded from a cache."""

from __future__ import annotations

import re
from pathlib import Path

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class TokenCounter:
    """Counts and splits text in the LLM's tokens (the chunks are also training examples)."""

    def __init__(self, tokenizer_json: Path):
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(tokenizer_json))
        self._tok.no_truncation()
        self._tok.no_padding()

    def count(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        return [len(enc.ids) for enc in self._tok.encode_batch(texts, add_special_tokens=False)]

    def split(self, text: str, budget: int) -> list[str]:
        """Cut ``text`` into consecutive pieces of at most ``budget`` tokens, losing no characters."""
        offsets = self._tok.encode(text, add_special_tokens=False).offsets
        if len(offsets) <= budget:
            return [text]
        pieces, start = [], 0
        for i in range(budget, len(offsets), budget):
            cut = offsets[i][0]
            pieces.append(text[start:cut])
            start = cut
        pieces.append(text[start:])
        return [p for p in pieces if p]


def load_token_counter(gguf_path: Path, cache_dir: Path) -> TokenCounter:
    stat = gguf_path.stat()
    key = _SAFE.sub("_", f"{gguf_path.stem}-{stat.st_size}-{int(stat.st_mtime)}")
    folder = cache_dir / "tokenizers" / key
    target = folder / "tokenizer.json"
    if not target.exists():
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
        tmp = folder.with_name(folder.name + ".tmp")
        tok.save_pretrained(str(tmp))
        folder.parent.mkdir(parents=True, exist_ok=True)
        if folder.exists():  # another process won the race
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.rename(folder)
    return TokenCounter(target)
