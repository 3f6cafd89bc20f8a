"""Beatport: what a user may ask Crate to collect, and Beatport's track data turned into values.

Two sources carry the same v4 track objects: the public pages' embedded `__NEXT_DATA__`
JSON (web mode) and the v4 catalog API (API mode). Every module here is pure: no
network, no files, no clock except where a date is passed in. Fetching lives in
`services.beatport_client`, which builds every URL from a `Target` and the configured
base URLs, never from what a user typed.

- `targets`: the kinds of thing Crate collects (`Target`), their checks and their words.
- `links`: a pasted Beatport link read into a `Target`, refusing anything else.
- `tracks`: v4 track objects and lists of them read into `BeatportTrack` and `TrackList`
  (also the API mode's answers).
- `pages`: web mode: a page's `__NEXT_DATA__` and the one list of tracks the page is for.
- `challenge`: telling a bot wall from a real answer.
"""
