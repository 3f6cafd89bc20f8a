"""Spotify's Web API, as Crate uses it: an app reading the catalogue, a user writing playlists.

Designed for Development-Mode apps (2026): search `limit` at most 10, no batch
`GET /tracks?ids=`, no popularity, audio features answer 403. A 429 surfaces at once as
`SpotifyRateLimited` so the caller decides how long to wait; spotipy and urllib3 are
never allowed to sleep on `Retry-After` inside a thread.

- `client`: `SpotifyCatalog`, the calls Crate makes (search by ISRC or words, one track,
  audio features).
- `session`: spotipy set up for Crate (its own HTTP sessions, the token endpoint's
  errors kept) and run one blocking call at a time in a worker thread.
- `errors`: Crate's Spotify errors, and spotipy's failures mapped onto them (rate limit
  and quota, refused credentials, forbidden endpoints, Spotify unavailable).
- `tracks`: `SpotifyTrack`, the fields Crate keeps from a Spotify track object.
- `oauth`: a user's login (authorization code with PKCE), refreshing its tokens, `/me`.
- `playlists`: `SpotifyPlaylists`, the current user's playlists (httpx; a 401 refreshes
  the login once), within Development Mode's 2026 rules.
"""
