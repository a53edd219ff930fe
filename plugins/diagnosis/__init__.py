"""The diagnosis activity (being written)."""
