"""Record reference values of the release trainer's feature initialisation (hint losses) before porting it.

Writes ``tests/data/feature_init_reference.json``: on seeded networks (MSPTNet seed 0, teacher
seed 1, hint adapters seed 2) and seeded 64 px inputs, the per-tap hint losses of
``research.release.feature_init.Hints`` (statistics from two batches, then the losses on a third)
and the gradient norm of their mean over the student's and the adapters' parameters.
Run from the repository root: ``python research/record_feature_init_reference.py``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mspt_pyiqa.archs import MSPTNet  # noqa: E402
from research.release.feature_init import DEFAULT_TAPS, Hints, student_maps, teacher_maps  # noqa: E402
from research.release.teacher import MobileNetV2Teacher  # noqa: E402


def main() -> int:
    torch.manual_seed(0)
    net = MSPTNet(pretrained=False, test_img_size=None).train()
    torch.manual_seed(1)
    teacher = MobileNetV2Teacher(None).eval()
    torch.manual_seed(2)
    hints = Hints(DEFAULT_TAPS)
    g = torch.Generator().manual_seed(3)
    batches = [torch.rand(4, 3, 64, 64, generator=g) for _ in range(3)]
    with torch.no_grad():
        firsts = [teacher_maps(teacher, b, hints.teacher_taps) for b in batches[:2]]
    hints.fit_stats([f[0] for f in firsts], [f[1] for f in firsts])
    with torch.no_grad():
        t_maps, t_pooled = teacher_maps(teacher, batches[2], hints.teacher_taps)
    s_maps, s_pooled = student_maps(net, batches[2], hints.student_taps)
    parts = hints.losses(s_maps, s_pooled, t_maps, t_pooled)
    loss = torch.stack(parts).mean()
    loss.backward()
    params = list(net.parameters()) + list(hints.parameters())
    gnorm = float(torch.sqrt(sum((p.grad ** 2).sum() for p in params if p.grad is not None)))
    out = {"parts": [float(p.detach()) for p in parts], "loss": float(loss.detach()), "grad_norm": gnorm,
           "seeds": {"student": 0, "teacher": 1, "hints": 2, "inputs": 3}, "taps": {str(k): v for k, v in DEFAULT_TAPS.items()}}
    path = ROOT / "tests" / "data" / "feature_init_reference.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}: {out['parts']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
