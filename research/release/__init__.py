"""Training the released mspt_face weights (teacher, pools, three MSPT stages, figures)."""
