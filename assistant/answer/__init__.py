"""Answering: evidence lines, the prompt, llama.cpp generation, attribution."""
