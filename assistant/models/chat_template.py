"""The chat format llama.cpp answers with: the GGUF's own ``tokenizer.chat_template`` rendered by
llama-cpp-python's Jinja2ChatFormatter, or ChatML when the model has no template or it fails to render."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

FALLBACK = "chatml"
_PROBE = [{"role": "system", "content": "probe system"}, {"role": "user", "content": "probe question"}]


@dataclass(frozen=True)
class ChatTemplate:
    label: str  # shown in `assistant status`: "gguf (<model name>)" or "chatml (fallback: why)"
    chat_format: str | None  # a llama-cpp-python built-in format name, when the fallback is used
    formatter: object | None  # a Jinja2ChatFormatter over the model's own template

    def format(self, messages: list[dict]):
        """The prompt text and stop strings for ``messages`` (llama-cpp-python's ChatFormatterResponse)."""
        from llama_cpp import llama_chat_format

        if self.formatter is not None:
            return self.formatter(messages=messages)
        return getattr(llama_chat_format, f"format_{self.chat_format}")(messages=messages)

    def llama_kwargs(self) -> dict:
        """The Llama(...) arguments that select this template."""
        if self.formatter is not None:
            return {"chat_handler": self.formatter.to_chat_handler()}
        return {"chat_format": self.chat_format}


def _token(fields, tokens, key: str) -> str:
    field = fields.get(key)
    if field is None or tokens is None:
        return ""
    index = int(field.parts[field.data[0]][0])
    return bytes(tokens.parts[tokens.data[index]]).decode("utf-8", errors="replace") if index < len(tokens.data) else ""


def from_template(template: str, bos: str, eos: str, name: str, add_bos: bool = False) -> ChatTemplate:
    """The model's template when it renders a system + user turn with the text in it, else ChatML."""
    if not template.strip():
        return ChatTemplate(f"{FALLBACK} (fallback: the model has no chat template)", FALLBACK, None)
    if add_bos and bos and "bos_token" not in template:
        # llama-cpp-python adds no BOS to a rendered template: put it in when the model wants one
        template = "{{ bos_token }}" + template
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    try:
        formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos, add_generation_prompt=True)
        prompt = formatter(messages=_PROBE).prompt
    except Exception as exc:  # jinja2 raises many types (syntax, undefined, the template's raise_exception)
        return ChatTemplate(f"{FALLBACK} (fallback: the model's template fails: {str(exc)[:80]})", FALLBACK, None)
    if "probe question" not in prompt:
        return ChatTemplate(f"{FALLBACK} (fallback: the model's template drops the question)", FALLBACK, None)
    return ChatTemplate(f"gguf ({name})", None, formatter)


def choose(path: Path) -> ChatTemplate:
    """Read the template and special tokens from the header (no model load) and pick the format. Parsing the
    header (the whole vocabulary) takes seconds: a file is read once per size and modification time."""
    try:
        stat = Path(path).stat()
    except OSError:
        return _choose(str(path), 0, 0)
    return _choose(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _choose(path: str, size: int, mtime_ns: int) -> ChatTemplate:
    from gguf import GGUFReader

    from assistant.models.gguf_info import header_string

    try:
        fields = GGUFReader(str(path)).fields
    except (ValueError, OSError, IndexError, KeyError) as exc:
        return ChatTemplate(f"{FALLBACK} (fallback: unreadable header: {exc})", FALLBACK, None)
    tokens = fields.get("tokenizer.ggml.tokens")
    bos = _token(fields, tokens, "tokenizer.ggml.bos_token_id")
    eos = _token(fields, tokens, "tokenizer.ggml.eos_token_id")
    name = header_string(fields, "general.name") or Path(path).stem
    add_bos = fields.get("tokenizer.ggml.add_bos_token")
    wants_bos = bool(add_bos is not None and add_bos.data and add_bos.parts[add_bos.data[0]][0])
    return from_template(header_string(fields, "tokenizer.chat_template"), bos, eos, name, wants_bos)
