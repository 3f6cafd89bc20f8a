"""Where the real captured samples are: `CRATE_REAL_FIXTURES` when set, else
`shared/fixtures/real` in the folder beside the checkout (as CI lays them out)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BESIDE_THE_CHECKOUT = REPO_ROOT.parent / "shared" / "fixtures" / "real"


def real_fixtures() -> Path:
    """The `fixtures/real` folder; FileNotFoundError saying where it was looked for."""
    named = os.environ.get("CRATE_REAL_FIXTURES")
    folder = Path(named) if named else BESIDE_THE_CHECKOUT
    if (folder / "beatport").is_dir():
        return folder
    where = f"CRATE_REAL_FIXTURES ({folder})" if named else f"{folder}, beside the checkout"
    raise FileNotFoundError(
        f"the real samples were not found at {where}: put them at ../shared/fixtures/real "
        "or point CRATE_REAL_FIXTURES at them"
    )
