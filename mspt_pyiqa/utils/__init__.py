"""Small shared helpers (file I/O) that every part of the package uses; imports nothing heavy."""
