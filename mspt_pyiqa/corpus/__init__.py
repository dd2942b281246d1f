"""Synthetic face-quality corpus: degradation sampler, labels, stage configs and builder."""
from mspt_pyiqa.corpus.labels import DEFAULT_CURVES, SeverityLabeler
from mspt_pyiqa.corpus.sampler import DegradationSampler

__all__ = ["DEFAULT_CURVES", "DegradationSampler", "SeverityLabeler"]
