"""The jury activity (being written)."""
