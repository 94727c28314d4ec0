"""Choosing what to learn from: SIFT and its baselines, pure numpy."""
