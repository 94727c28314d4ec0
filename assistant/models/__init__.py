"""Model files: find them, describe them, and pick the compute device."""
