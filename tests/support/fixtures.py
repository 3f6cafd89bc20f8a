"""Where the real captured samples (shared/fixtures/real) are: beside the repository, as
CI clones it, else /work/shared; CRATE_REAL_FIXTURES names another place."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def real_fixtures() -> Path:
    """The `fixtures/real` folder; FileNotFoundError when it is nowhere to be found."""
    named = os.environ.get("CRATE_REAL_FIXTURES")
    candidates = [Path(named)] if named else []
    candidates += [
        base / "fixtures" / "real" for base in (REPO_ROOT.parent / "shared", Path("/work/shared"))
    ]
    for folder in candidates:
        if (folder / "beatport").is_dir():
            return folder
    raise FileNotFoundError(
        "the real samples (shared/fixtures/real) were not found beside the repository, "
        "nor at /work/shared; set CRATE_REAL_FIXTURES"
    )
