"""Default MSPT stage configs (YAML): ``stage1.yml``, ``stage2.yml``, ``stage3.yml``."""
