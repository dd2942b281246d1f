"""Research code of mspt-pyiqa: how past releases were trained and studied (not part of the wheel)."""
