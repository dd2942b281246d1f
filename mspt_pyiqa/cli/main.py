"""``mspt-face`` entry point.

Each subcommand lives in its own module ``mspt_pyiqa.cli.<name>`` that defines
``add_arguments(parser: argparse.ArgumentParser) -> None`` and
``run(args: argparse.Namespace) -> int`` (the exit status). Modules are imported only
when their subcommand runs, so ``mspt-face score`` does not pay for training imports.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import List, Optional

# name -> (module, one-line help). Explicit: no plugin discovery by name patterns.
SUBCOMMANDS = {
    "score": ("mspt_pyiqa.cli.score", "score face images (files, folders, globs, lists) with MSPT"),
    "export": ("mspt_pyiqa.cli.export", "export MSPT to ONNX"),
    "train": ("mspt_pyiqa.cli.train", "run a multi-stage progressive training recipe"),
    "bench": ("mspt_pyiqa.cli.bench", "leaderboard: mspt_face and pyiqa metrics on face IQA datasets"),
    "corpus": ("mspt_pyiqa.cli.corpus", "build the synthetic face-quality corpus from clean face photos"),
    "compare": ("mspt_pyiqa.cli.compare", "compare restoration methods on the same faces: paired statistics, tables, HTML report"),
    "report": ("mspt_pyiqa.cli.report", "an HTML page of scored faces: histogram, sorted grid, worst and best"),
}


def build_parser(argv: List[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mspt-face", description="MSPT face image quality assessment")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = next((a for a in argv if a in SUBCOMMANDS), None)
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == wanted:
            importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    module = importlib.import_module(SUBCOMMANDS[args.command][0])
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
