"""Paired comparison of restoration methods and the HTML report (``mspt-face compare`` / ``report``).

Modules, one job each: :mod:`.matching` (method folders or score files -> images matched by
relative path), :mod:`.scores` (score caches per method: MSPT through the score runner, FR
metrics against ``--ref``), :mod:`.paired` (paired statistics with seeded bootstrap
intervals), :mod:`.tables` (markdown / LaTeX / CSV tables), :mod:`.thumbs` (small JPEG
thumbnails), :mod:`.html` (the self-contained page), :mod:`.run` (the compare pipeline).
"""
