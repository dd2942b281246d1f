"""Batch scoring of image files with MSPT (the engine behind ``mspt-face score``).

Modules, one job each: :mod:`.inputs` (paths, folders, globs, list files -> files),
:mod:`.faces` (which regions to score: ``--faces auto|crop|detect``),
:mod:`.preprocess` (decode + faces + resize, shared by every backend),
:mod:`.dataset` (DataLoader dataset), :mod:`.backends` (torch / onnxruntime),
:mod:`.writer` (rows, atomic CSV/JSON, summary), :mod:`.shard` (split and merge),
:mod:`.runner` (the loop).
"""
