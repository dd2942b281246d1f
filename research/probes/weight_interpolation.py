"""Weight-space interpolation of a fine-tuned checkpoint with the release it started from.

Every native-scale fine-tune keeps what it learnt on native-scale ladders but loses the start
release's order of the kinds its ladders do not hold (saturation, contrast, exposure) and its
pseudo-MOS SRCC on the model card's pools. Interpolating the weights of a fine-tune and of its
zero-shot start, ``(1 - alpha) * fine_tuned + alpha * start`` (Wortsman et al., 2022, "Robust
fine-tuning of zero-shot models", WiSE-FT), is the standard remedy for that kind of forgetting when
the two lie in one linearly connected basin (the fine-tune chain starts from the release). Whether
it holds here is measured on the card's pools and the yardstick, not assumed.

The product's recipe does the same after its last stage (``weight_interpolation``,
``mspt_pyiqa/train/interpolation.py``); this script applies it to probe checkpoints.

    python research/probes/weight_interpolation.py --fine-tuned runs/mspt_face_v12_probe_card224.pth \\
        --start weights/mspt_face_v11-f7ca512a.pth --alpha 0.3 --out runs/wise_card224_a30.pth
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from mspt_pyiqa.train.interpolation import write_interpolated


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fine-tuned", required=True, type=Path)
    p.add_argument("--start", required=True, type=Path, help="the release the fine-tune started from")
    p.add_argument("--alpha", required=True, type=float, help="weight of the start checkpoint, in [0, 1]")
    p.add_argument("--out", required=True, type=Path)
    a = p.parse_args(argv)
    record = write_interpolated(a.fine_tuned, a.start, a.alpha, a.out)
    print(f"{a.out}: sha256 {record['sha256'][:16]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
