"""Beatport: what a user may ask Crate to collect, its track data turned into values, and
fetching it politely.

Two sources carry the same v4 track objects: the public pages' embedded `__NEXT_DATA__`
JSON (web mode) and the v4 catalog API (API mode). The first five modules are pure: no
network, no files, no clock except where a date is passed in. The fetching modules build
every URL from a `Target` and the configured base URLs, never from what a user typed.

- `targets`: the kinds of thing Crate collects (`Target`), their checks and their words.
- `links`: a pasted Beatport link read into a `Target`, refusing anything else.
- `tracks`: v4 track objects and lists of them read into `BeatportTrack` and `TrackList`
  (also the API mode's answers).
- `pages`: web mode: a page's `__NEXT_DATA__` and the one list of tracks the page is for.
- `challenge`: telling a bot wall from a real answer.
- `client`: `BeatportClient`, what jobs use: one page of a `Target` in the configured mode.
- `wire`: the polite HTTP layer: spacing, retries and backoff, same-host redirects, bot
  checks, errors with secrets masked (`BeatportError`), the worker's shared connection pool.
- `web_mode`: fetching a `Target`'s public page as a browser would.
- `api_mode`: fetching a `Target` from the v4 catalog API.
- `login`: the API's access token: the configured one, or Crate's own login and refresh.
"""
