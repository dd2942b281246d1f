"""Holds :mod:`mspt_forkserver_guard`, imported by top-level name in the DataLoader forkserver
(this folder is put on ``sys.path`` for that), so that importing it does not import the package."""
