"""The teams activity (being written)."""
