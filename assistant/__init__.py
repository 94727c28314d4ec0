"""assistant: a local terminal assistant that learns from your documents at question time."""

import os

# Set before any heavy library is imported: models ship with the packages, nothing is downloaded.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("PYTORCH_ENABLE_MPS_FALLBACK", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TQDM_DISABLE", "1")  # transformers' GGUF loader draws a bar over our own progress display

__version__ = "0.1.0"
