"""How a track is shown in lists and on its page: its title and mix, its artwork small,
its length as m:ss. Pure functions of the stored values."""

from __future__ import annotations

import re
from typing import Final

_IMAGE_SIZE: Final = re.compile(r"/image_size/\d{1,4}x\d{1,4}/")
_FEATURING: Final = re.compile(r"(?:feat\.?|ft\.|featuring)\s+(.+)", re.IGNORECASE)


def minutes_seconds(milliseconds: int | None) -> str | None:
    """A length as m:ss (327441 -> "5:27"); None for None."""
    if milliseconds is None:
        return None
    seconds = round(milliseconds / 1000)
    return f"{seconds // 60}:{seconds % 60:02d}"


def thumbnail(url: str | None) -> str | None:
    """Beatport artwork at 95x95 (its image server sizes an image by its path)."""
    return _IMAGE_SIZE.sub("/image_size/95x95/", url, count=1) if url else None


def shown_mix(title: str, mix_name: str, *, original: bool = False) -> str:
    """The mix name worth showing after a title: nothing for a mix the title already holds
    (Beatport gives "Into My Life (feat. Joyce Sims)" the mix name "feat. Joyce Sims"),
    nor, in lists (unless `original`), for Beatport's default "Original Mix"."""
    mix = " ".join(mix_name.split())
    lowered, folded = title.lower(), mix.lower()
    if (folded == "original mix" and not original) or not mix:
        return ""
    if f"({folded})" in lowered or f"[{folded}]" in lowered:
        return ""
    featuring = _FEATURING.fullmatch(mix)
    if featuring and featuring.group(1).lower() in lowered:
        return ""
    return mix
