"""Face IQA datasets (pyiqa registry classes) and converters into the common meta-info CSV.

The common meta-info CSV is pyiqa's layout with named columns: ``dist_img`` (image path
relative to the CSV's folder), ``mos`` (in [0, 1], higher is better; empty = no label),
``split`` (train / val / test) and any further columns (``source_set``, ``stage``, ``seed``,
...). The synthetic face corpus writes the same columns, so one dataset class reads both.
"""
from mspt_pyiqa.data.meta import META_COLUMNS, normalize_mos, read_meta_csv, write_meta_csv

__all__ = ["META_COLUMNS", "normalize_mos", "read_meta_csv", "write_meta_csv"]
