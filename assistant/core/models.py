"""``Models``: the embedder, the training copy and llama.cpp, loaded lazily on first use and kept warm."""

from __future__ import annotations

from pathlib import Path

from assistant.config import Config


class Models:
    """Everything that loads weights. Each part loads on first use, so ``--help``, ``status`` and an
    unchanged re-index load nothing, and a warm process (the TUI, the server) loads each part once."""

    def __init__(self, config: Config):
        self.config = config
        self._embedder = None
        self._tokens = None
        self._training = None
        self._generator = None

    @property
    def device(self) -> str:
        from assistant.models.locate import pick_device

        return pick_device(self.config.device)

    @property
    def gguf_path(self) -> Path:
        from assistant.models.locate import resolve_gguf

        return resolve_gguf(self.config.model)

    @property
    def embedder(self):
        if self._embedder is None:
            from assistant.embed import load_embedder
            from assistant.models.locate import resolve_embedder

            self._embedder = load_embedder(resolve_embedder(self.config.embedder), self.device, self.config.embed_batch)
        return self._embedder

    @property
    def tokens(self):
        """The LLM's tokenizer, for chunk budgets (no weights)."""
        if self._tokens is None:
            from assistant.index.tokens import load_token_counter

            self._tokens = load_token_counter(self.gguf_path, self.config.cache_dir)
        return self._tokens

    @property
    def training(self):
        """The dequantised torch copy of the GGUF that LoRAs are trained on."""
        if self._training is None:
            from assistant.learn.tune import TrainingModel
            from assistant.models.locate import set_threads

            self.preflight()
            set_threads(self.config.threads)
            self._training = TrainingModel(self.gguf_path, self.device, self.config.cache_dir, self.config.train_dtype)
        return self._training

    def preflight(self) -> None:
        """Refuse, with the numbers, a training copy that would not fit (no out-of-memory kill)."""
        from assistant.learn.preflight import check_fits, memory_limit_override
        from assistant.models.gguf_info import read_info

        check_fits(read_info(self.gguf_path), self.device, self.config.max_train_tokens, self.config.lora_r,
                   memory_limit_override())  # fmt: skip

    @property
    def generator(self):
        """llama.cpp with the base model; adapters are switched in place."""
        if self._generator is None:
            from assistant.answer.generator import Generator

            self._generator = Generator(
                self.gguf_path, n_ctx=self.config.n_ctx, threads=self.config.threads, seed=self.config.seed
            )
        return self._generator

    def loaded(self) -> list[str]:
        """Names of the parts in memory now (for ``server status``)."""
        parts = {"embedder": self._embedder, "tokenizer": self._tokens, "training copy": self._training,
                 "llama.cpp": self._generator}  # fmt: skip
        return [name for name, part in parts.items() if part is not None]

    def close(self) -> None:
        if self._generator is not None:
            self._generator.close()
            self._generator = None
