"""Deciding which Spotify track is a given Beatport track: pure functions, no I/O.

- `text`: titles and artist credits folded to comparable words; credits split into names.
- `versions`: which version (mix) of a recording a title names, and which versions agree.
- `scoring`: how well one Spotify candidate fits a Beatport track (`TrackQuery`).
- `choice`: what to search Spotify for, and which candidate to take (`Match`).
"""
