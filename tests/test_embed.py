"""The default embedder runs MiniLM in plain torch; it must give transformers' vectors, on any text."""

import json
import shutil

import numpy as np

from assistant.embed import TransformersEmbedder, load_embedder
from assistant.embed_bert import BertEmbedder, supports
from assistant.models.locate import default_embedder_dir

TEXTS = ["TAP flight TP753 leaves Copenhagen at 07:40.", "", "x" * 3000, "日本語のテキストです。", "שלום עולם",
         "| 1,390 | DKK |", "The default is 300 seconds."]  # fmt: skip


def test_plain_torch_bert_gives_transformers_vectors_in_any_batch_order():
    folder = default_embedder_dir()
    ours, theirs = BertEmbedder(folder, batch_size=3), TransformersEmbedder(folder, batch_size=32)
    a, b = ours.embed(TEXTS), theirs.embed(TEXTS)
    assert a.shape == b.shape == (len(TEXTS), 384) and a.dtype == np.float32
    assert np.abs(a - b).max() < 1e-5
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert np.abs(ours.embed(TEXTS[:1]) - a[:1]).max() < 1e-5  # padding in a batch changes nothing


def test_the_default_folder_loads_plain_torch_and_another_encoder_goes_through_transformers(tmp_path):
    folder = default_embedder_dir()
    assert supports(folder) and isinstance(load_embedder(folder), BertEmbedder)
    other = tmp_path / "other"
    shutil.copytree(folder, other)
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "position_embedding_type": "relative_key"}))
    assert not supports(other) and not supports(tmp_path / "missing")
    (other / "config.json").write_text(json.dumps(config))
    (other / "tokenizer.json").unlink()  # no fast tokenizer file: transformers builds one from vocab.txt
    assert isinstance(load_embedder(other), TransformersEmbedder)
