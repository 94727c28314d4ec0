"""Indexing: discover files, read each format, chunk within a token budget, keep the index in sync."""
