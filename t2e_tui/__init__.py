"""t2e: the harness (rerun engine, backends, gate, CLI) and the face (the Textual app)."""

__version__ = "0.1.0"
