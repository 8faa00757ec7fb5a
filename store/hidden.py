"""The characters no output path writes as they are: one definition for every layer (the core
below t2e_tui cannot import it). t2e_tui/textsafe cleans trace text and the CLI's streams with
it, the app's strips (t2e_tui/ui/safe_render.py) too, and store.queries refuses run names that
hold them (or a tab or newline), because listings strip them."""

from __future__ import annotations

import re

# C0 controls but \t and \n (ESC included), DEL, C1 controls, the bidi embeddings, overrides
# (U+202A-U+202E) and isolates (U+2066-U+2069) that can visually reorder text (a known way to
# disguise content), and lone surrogates (JSON like "\ud800" gives them), which no terminal
# encoding can write
HIDDEN_CHARS = "\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
HIDDEN = re.compile(f"[{HIDDEN_CHARS}]")
# its ASCII members as bytes, for bytes.translate (the fast path for ASCII text)
HIDDEN_ASCII = bytes(c for c in range(128) if HIDDEN.match(chr(c)))
