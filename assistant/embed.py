"""Text embeddings: the ``Embedder`` protocol and the default MiniLM (mean pooled, L2-normalised)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """float32 array (len(texts), dim), each row of unit length."""
        ...


class TransformersEmbedder:
    """Any local BERT-like encoder folder through transformers: mean pooling, then L2 normalisation."""

    def __init__(self, folder: Path, device: str = "cpu", batch_size: int = 32, max_length: int = 256):
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()

        self.folder = Path(folder)
        self.name = embedder_name(self.folder)
        self.device = device
        self.batch_size = batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self.model = AutoModel.from_pretrained(str(folder)).to(device).eval()
        self.max_length = min(max_length, getattr(self.tokenizer, "model_max_length", max_length))
        self.dim = int(self.model.config.hidden_size)

    def embed(self, texts: list[str]) -> np.ndarray:
        return embed_in_batches(texts, self.batch_size, self.dim, self._encode)

    def _encode(self, batch: list[str]):
        tokens = self.tokenizer(batch, padding=True, truncation=True, max_length=self.max_length,
                                return_tensors="pt").to(self.device)  # fmt: skip
        return mean_pooled(self.model(**tokens).last_hidden_state, tokens["attention_mask"])


def embedder_name(folder: Path) -> str:
    """The name an index records its vectors under: the folder, or its package for a ``model`` folder."""
    return folder.name if folder.name != "model" else folder.parent.name


def embed_in_batches(texts: list[str], batch_size: int, dim: int, encode) -> np.ndarray:
    """float32 (len(texts), dim) unit vectors. ``encode`` maps a batch of texts to pooled torch vectors; batches
    are cut from the texts sorted by length, so each pads little."""
    import torch

    out = np.zeros((len(texts), dim), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            out[idx] = torch.nn.functional.normalize(encode([texts[i] for i in idx]).float(), dim=-1).cpu().numpy()
    return out


def mean_pooled(hidden, mask):
    """The mean of each text's token vectors, padding left out."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)


def load_embedder(folder: Path, device: str = "cpu", batch_size: int = 32) -> Embedder:
    """A BERT folder (the default MiniLM) runs in plain torch, which a cold ask loads 3 s sooner than
    transformers' BERT (``embed_bert``); any other encoder goes through transformers."""
    from assistant.embed_bert import BertEmbedder, supports

    if supports(folder):
        return BertEmbedder(folder, device=device, batch_size=batch_size)
    return TransformersEmbedder(folder, device=device, batch_size=batch_size)
