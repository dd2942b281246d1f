"""Small text helpers for messages printed to users (standard library only)."""
from __future__ import annotations

from typing import Optional


def plural(count: int, word: str, plural_form: Optional[str] = None) -> str:
    """``"1 face"``, ``"0 faces"``, ``"2 faces"``; ``plural_form`` for irregular words."""
    return f"{count} {word if count == 1 else (plural_form or word + 's')}"
