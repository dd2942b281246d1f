#!/usr/bin/env python
"""Thin wrapper: ``python eval/leaderboard.py ARGS`` == ``mspt-face bench ARGS`` (see eval/README.md)."""
import sys

from mspt_pyiqa.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench"] + sys.argv[1:]))
