"""Where the top-level `migrations/` and `plugins/` folders are: beside the package in a
checkout (and an editable install), or inside it, in `backend/shipped/`, when the package was
installed from a wheel (setup.py copies them there: the container image has no checkout)."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def shipped_folder(name: str) -> Path:
    checkout = PACKAGE.parent / name
    return checkout if checkout.is_dir() else PACKAGE / "shipped" / name
