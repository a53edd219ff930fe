"""The pitches activity (being written)."""
