"""Where the library is, which catalog and model, the page's password: defaults read from the
environment in this one place; command-line options override them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    library: Path  # ALTCLIP_LIBRARY, else ./data
    catalog: str | None  # ALTCLIP_CATALOG: an SQLAlchemy URL, else LIBRARY/catalog.sqlite
    model: str | None  # ALTCLIP_MODEL, else the library's, else BAAI/AltCLIP
    password: str | None  # ALTCLIP_PASSWORD: the page's, needed beyond loopback
    # ALTCLIP_INT8=1: text queries through the int8 text tower, which it checks against the
    # exact one; the int8 tower is the default now, so this says only that it was asked for.
    int8: bool = False
    # ALTCLIP_EXACT=1: text queries through the exact (unquantised) text tower, never int8 (which is
    # otherwise the default on CPU, where it checks itself): Library.open(..., int8=not exact).
    exact: bool = False
    hemisphere: str = "north"  # ALTCLIP_HEMISPHERE=south: "summer" in a query is December-February

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            library=Path(environ.get("ALTCLIP_LIBRARY") or "data"),
            catalog=environ.get("ALTCLIP_CATALOG") or None,
            model=environ.get("ALTCLIP_MODEL") or None,
            password=environ.get("ALTCLIP_PASSWORD") or None,
            int8=_yes(environ.get("ALTCLIP_INT8")),
            exact=_yes(environ.get("ALTCLIP_EXACT")),
            hemisphere=environ.get("ALTCLIP_HEMISPHERE", "").strip().lower() or "north",
        )


def _yes(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes")
