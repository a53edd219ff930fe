"""The results activity (being written)."""
