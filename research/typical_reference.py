"""Measure the typical good photo of a release config's train photos (the sampler's ``away_from_typical`` block).

``python -m research.typical_reference --config research/release/configs/mspt_face_v23.yml``
prints the block, measured with :func:`mspt_pyiqa.corpus.typical.measure` on the config's
train photos of the clean sets at its last resolution. Run from the repository root.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import List, Optional

from mspt_pyiqa.corpus.typical import measure

logger = logging.getLogger(__name__)


def main(argv: Optional[List[str]] = None) -> int:
    """Print the ``away_from_typical`` block for a release config, measured on its train photos."""
    import yaml

    from mspt_pyiqa.corpus.sources import SourceImageError, load_rgb
    from research.release.pools import square_face
    from research.release.run import split_sources

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--config", type=Path, required=True, help="release config (faces, split, last resolution)")
    parser.add_argument("--sets", nargs="+", default=["celebahq", "scut"], help="source sets of good photos")
    parser.add_argument("--per-set", type=int, default=300, help="first N train photos (by id) of each set")
    args = parser.parse_args(argv)
    if not args.config.is_file():
        parser.error(f"--config {args.config}: no such file")
    cfg = yaml.safe_load(args.config.read_text())
    sources, splits = split_sources(cfg)
    res = int(cfg["stages"][-1]["resolution"])
    images = []
    for name in args.sets:
        for src in [s for s in sources if s.source_set == name and splits[s.source_id] == "train"][: args.per_set]:
            try:
                images.append(square_face(load_rgb(src.path), res))
            except SourceImageError as err:
                logger.warning("skipping reference photo: %s", err)
    ref = measure(images)
    print(yaml.safe_dump({"away_from_typical": ref.as_config()}, default_flow_style=True).strip()
          + f"  # {len(images)} train photos of {', '.join(args.sets)} at {res} px")
    return 0


if __name__ == "__main__":
    sys.exit(main())
