"""`SpotifyTrack`: the fields Crate keeps from a Web API track object."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SpotifyTrack:
    """The fields Crate keeps from a Spotify track object."""

    id: str
    name: str
    artists: tuple[str, ...]
    album: str
    album_id: str | None = None
    album_type: str | None = None
    album_image_url: str | None = None
    release_date: str | None = None
    release_date_precision: str | None = None
    duration_ms: int | None = None
    isrc: str | None = None
    popularity: int | None = None
    preview_url: str | None = None
    url: str | None = None

    @classmethod
    def from_api(cls, obj: Mapping[str, Any]) -> SpotifyTrack:
        """Build from a Web API track object; absent fields (dev-mode responses) become None."""
        album = _mapping(obj.get("album"))
        images = [image for image in album.get("images") or () if isinstance(image, Mapping)]
        # Spotify lists images largest first, but nothing promises it: pick the widest.
        image = max(images, key=lambda i: i.get("width") or 0, default=None)
        return cls(
            id=str(obj.get("id") or ""),
            name=str(obj.get("name") or ""),
            artists=tuple(
                str(artist["name"])
                for artist in obj.get("artists") or ()
                if isinstance(artist, Mapping) and artist.get("name")
            ),
            album=str(album.get("name") or ""),
            album_id=_text(album.get("id")),
            album_type=_text(album.get("album_type")),
            album_image_url=_text(image.get("url")) if image else None,
            release_date=_text(album.get("release_date")),
            release_date_precision=_text(album.get("release_date_precision")),
            duration_ms=_integer(obj.get("duration_ms")),
            isrc=_text(_mapping(obj.get("external_ids")).get("isrc")),
            popularity=_integer(obj.get("popularity")),
            preview_url=_text(obj.get("preview_url")),
            url=_text(_mapping(obj.get("external_urls")).get("spotify")),
        )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _integer(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)
