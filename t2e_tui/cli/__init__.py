"""The `t2e` command line (click). `main` is the console entry point; each area's commands live
in their own module here and register themselves on the root group in `main.py`."""

from .main import cli, main

__all__ = ["cli", "main"]
