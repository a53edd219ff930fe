"""The axes activity (being written)."""
