"""The headless core: a small facade that wires models, indexing, asking and the library."""
