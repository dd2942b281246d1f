"""The ``mspt-face`` command line: one module per subcommand."""
