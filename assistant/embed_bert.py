"""A BERT sentence encoder in plain torch: the same vectors as ``TransformersEmbedder``, without transformers.

A cold ``assistant ask`` spent most of its wait for the first answer token importing transformers' BERT and
building it through ``AutoModel`` (4 to 5 s of 8 on 2 cores), to embed one question and the evidence lines.
MiniLM is 6 small layers that torch runs directly from ``model.safetensors``, with the fast tokenizer from
``tokenizer.json``. Any other encoder folder goes through transformers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def supports(folder: Path) -> bool:
    """A BERT encoder whose weights and fast tokenizer this module can read."""
    try:
        config = json.loads((Path(folder) / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return (config.get("model_type") == "bert" and config.get("position_embedding_type", "absolute") == "absolute"
            and config.get("hidden_act") == "gelu" and (Path(folder) / "model.safetensors").is_file()
            and (Path(folder) / "tokenizer.json").is_file())  # fmt: skip


class BertEmbedder:
    """Mean-pooled, L2-normalised BERT vectors."""

    def __init__(self, folder: Path, device: str = "cpu", batch_size: int = 32, max_length: int = 256):
        import torch
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        from assistant.embed import embedder_name

        self.folder = Path(folder)
        self.name = embedder_name(self.folder)
        self.device = device
        self.batch_size = batch_size
        config = json.loads((self.folder / "config.json").read_text())
        self.heads, self.layers = config["num_attention_heads"], config["num_hidden_layers"]
        self.eps = config.get("layer_norm_eps", 1e-12)
        self.dim = int(config["hidden_size"])
        weights = load_file(str(self.folder / "model.safetensors"), device=device)
        self.w = {k.removeprefix("bert."): v.float() for k, v in weights.items()}
        self.max_length = min(max_length, config.get("max_position_embeddings", max_length))
        self.tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_length)
        self.tokenizer.enable_padding(pad_id=config.get("pad_token_id", 0))
        self._torch = torch

    def embed(self, texts: list[str]) -> np.ndarray:
        from assistant.embed import embed_in_batches

        return embed_in_batches(texts, self.batch_size, self.dim, self._pooled)

    def _pooled(self, batch: list[str]):
        from assistant.embed import mean_pooled

        encodings = self.tokenizer.encode_batch(batch)
        ids, types, mask = (self._torch.tensor([getattr(e, f) for e in encodings], device=self.device)
                            for f in ("ids", "type_ids", "attention_mask"))  # fmt: skip
        return mean_pooled(self._encode(ids, types, mask), mask)

    def _encode(self, ids, types, mask):
        F = self._torch.nn.functional
        w, eps, dim = self.w, self.eps, self.dim
        batch, length = ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][types])  # fmt: skip
        x = F.layer_norm(x, (dim,), w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        keep = mask.bool()[:, None, None, :]  # padding takes no attention

        def linear(h, name: str):
            return F.linear(h, w[f"{name}.weight"], w[f"{name}.bias"])

        def heads(h):  # (batch, heads, length, head size)
            return h.view(batch, length, self.heads, dim // self.heads).transpose(1, 2)

        for i in range(self.layers):
            p = f"encoder.layer.{i}"
            q, k, v = (heads(linear(x, f"{p}.attention.self.{n}")) for n in ("query", "key", "value"))
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=keep).transpose(1, 2).reshape(batch, length, dim)
            x = F.layer_norm(x + linear(context, f"{p}.attention.output.dense"), (dim,),
                             w[f"{p}.attention.output.LayerNorm.weight"], w[f"{p}.attention.output.LayerNorm.bias"], eps)  # fmt: skip
            inner = F.gelu(linear(x, f"{p}.intermediate.dense"))
            x = F.layer_norm(x + linear(inner, f"{p}.output.dense"), (dim,),
                             w[f"{p}.output.LayerNorm.weight"], w[f"{p}.output.LayerNorm.bias"], eps)  # fmt: skip
        return x
