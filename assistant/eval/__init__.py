"""Evaluation protocols (lm, qa, overlap), statistics and reports."""
