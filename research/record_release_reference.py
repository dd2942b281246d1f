"""Record reference values of the release trainer's losses (before porting them into ``mspt_pyiqa.train``).

Writes ``tests/data/release_reference.json``: seeded inputs and the old implementations'
loss values and input gradients (ladder ranking hinge with and without pristine weight,
teacher-difference term, PLCC loss, label loss, ladder batch indices, kind probabilities)
and one ``_ladder_loss`` step of the old trainer on a tiny ladder pool with a seeded MSPTNet
(loss and gradient norm). ``tests/test_train_ladder.py`` checks the ported components
reproduce them. Run from the repository root: ``python research/record_release_reference.py``.
The recorded file was made with the code of ``research/release/`` as it was inside the package.
"""
from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PKG = "research.release" if (ROOT / "research" / "release" / "ladders.py").is_file() else "research.release"
ladders = importlib.import_module(f"{PKG}.ladders")
trainer = importlib.import_module(f"{PKG}.trainer")
pools = importlib.import_module(f"{PKG}.pools")


def _grad(fn, pred):
    p = pred.clone().requires_grad_(True)
    loss = fn(p)
    loss.backward()
    return float(loss), p.grad.tolist()


def main() -> int:
    g = torch.Generator().manual_seed(0)
    n_ladders, per = 6, 4
    labels = torch.rand(n_ladders * per, generator=g)
    labels = labels.view(n_ladders, per).sort(dim=1, descending=True).values.reshape(-1)  # level 0 best
    labels[5] = labels[6]  # one tie: no order
    group = torch.arange(n_ladders).repeat_interleave(per)
    pred = labels + 0.05 * torch.randn(len(labels), generator=g)
    teacher = labels + 0.03 * torch.randn(len(labels), generator=g)
    anchor = (torch.arange(len(labels)) % per) == 0
    out = {"inputs": {"labels": labels.tolist(), "group": group.tolist(), "pred": pred.tolist(),
                      "teacher": teacher.tolist(), "anchor": anchor.tolist()}}
    out["ranking_plain"] = _grad(lambda p: ladders.ranking_loss(p, labels, group, margin=0.03), pred)
    out["ranking_anchor"] = _grad(lambda p: ladders.ranking_loss(p, labels, group, margin=0.03, anchor=anchor,
                                                                  anchor_weight=2.5), pred)
    out["teacher_difference"] = _grad(lambda p: ladders.teacher_difference_loss(p, teacher, labels, group), pred)
    out["plcc"] = _grad(lambda p: trainer.plcc_loss(p, labels), pred)
    out["label"] = _grad(lambda p: trainer._label_loss(p, labels, {"label": 1.0, "plcc": 0.5}), pred)
    kinds = ["gaussian_blur", "jpeg", "saturation"]
    kp = ladders.kind_probabilities(kinds, {"jpeg": 2.0, "saturation": 4.0})
    out["kind_p"] = kp.tolist()
    # a ladder pool of 5 photos x (1 + 3 kinds x 2 bins) rows, tiny images
    n_photos, n_bins = 5, 2
    rows = n_photos * (1 + len(kinds) * n_bins)
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, size=(rows, 64, 64, 3), dtype=np.uint8)
    lab = np.zeros(rows, np.float32)
    kind_col, sev = [], []
    for p in range(n_photos):
        kind_col.append("pristine")
        sev.append(0.0)
        lab[p * 7] = 0.9
        for k, kind in enumerate(kinds):
            for b in range(n_bins):
                kind_col.append(kind)
                sev.append(0.3 + 0.4 * b)
                lab[p * 7 + 1 + k * n_bins + b] = 0.8 - 0.3 * b - 0.05 * k
    pool = pools.Pool(images=images, labels=lab, source_ids=np.repeat([f"p{i}" for i in range(n_photos)], 7),
                      kinds=np.array(kind_col), severities=np.array(sev, np.float32), resolution=64)
    brng = np.random.default_rng([0, 2, 5])
    idx, grp = ladders.ladder_batch(pool, len(kinds), n_bins, 4, brng, kp)
    out["ladder_batch"] = {"seed": [0, 2, 5], "ladders": 4, "index": idx.tolist(), "group": grp.tolist()}
    from mspt_pyiqa.archs import MSPTNet

    torch.manual_seed(0)
    net = MSPTNet(pretrained=False, test_img_size=None)
    net.train()
    data = trainer.StageData(pool, None, None, ladders=pool, ladder_kinds=kinds, ladder_bins=n_bins)
    lcfg = {"ladders_per_batch": 4, "margin": 0.03, "rank_weight": 4.0, "pristine_weight": 1.0,
            "kind_weights": {"jpeg": 2.0, "saturation": 4.0}}
    torch.manual_seed(1)  # dropout draws
    srng = np.random.default_rng([0, 2, 5])
    loss = trainer._ladder_loss(net, data, lcfg, {"label": 1.0, "plcc": 0.5}, srng)
    loss.backward()
    gnorm = float(torch.sqrt(sum((p.grad ** 2).sum() for p in net.parameters() if p.grad is not None)))
    # the images, flips and labels this step drew (the same rng sequence: ladder batch, then flips)
    srng = np.random.default_rng([0, 2, 5])
    idx2, grp2 = ladders.ladder_batch(pool, len(kinds), n_bins, 4, srng, kp)
    flips = (srng.random(len(idx2)) < 0.5).tolist()
    out["ladder_step"] = {"loss": float(loss), "grad_norm": gnorm, "index": idx2.tolist(), "flip": flips,
                          "pool_seed": 3, "net_seed": 0, "dropout_seed": 1, "lcfg": lcfg}
    path = ROOT / "tests" / "data" / "release_reference.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
