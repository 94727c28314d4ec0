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
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()

        self.folder = Path(folder)
        self.name = self.folder.name if self.folder.name != "model" else self.folder.parent.name
        self.device = device
        self.batch_size = batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self.model = AutoModel.from_pretrained(str(folder)).to(device).eval()
        self.max_length = min(max_length, getattr(self.tokenizer, "model_max_length", max_length))
        self.dim = int(self.model.config.hidden_size)
        self._torch = torch

    def embed(self, texts: list[str]) -> np.ndarray:
        torch = self._torch
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Sort by length so each batch pads little.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                batch = self.tokenizer(
                    [texts[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled.float(), dim=-1)
                out[idx] = pooled.cpu().numpy()
        return out


def load_embedder(folder: Path, device: str = "cpu", batch_size: int = 32) -> Embedder:
    """A BERT folder (the default MiniLM) runs in plain torch, which a cold ask loads 3 s sooner than
    transformers' BERT (``embed_bert``); any other encoder goes through transformers."""
    from assistant.embed_bert import BertEmbedder, supports

    if supports(folder):
        return BertEmbedder(folder, device=device, batch_size=batch_size)
    return TransformersEmbedder(folder, device=device, batch_size=batch_size)
