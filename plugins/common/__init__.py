"""Pieces several built-in activities share (rankings, dot ballots, posted items).

Written only against `palabre.engine`'s public API, like the activities themselves.
"""
