"""Test-time learning: the training copy, a fresh LoRA per question, adapter files, GGUF export."""
