"""The one set of characters no output writes as they are (store/hidden.py), and its users."""

from store.hidden import HIDDEN, HIDDEN_ASCII
from store.queries import UNSHOWN, run_name_problem
from t2e_tui import textsafe

HIDDEN_SAMPLES = "\x00\x08\x0b\x0c\x0d\x1b\x1f\x7f\x80\x9b\x9d\x9f\u202a\u202e\u2066\u2069\ud800\udfff"
SHOWN_SAMPLES = "\t\n a~\xa0\xe9\u2029\u202f\u2065\u206a\ue000\ufffd\U0001f600"


def test_the_set_boundaries():
    assert all(HIDDEN.match(c) for c in HIDDEN_SAMPLES)
    assert not any(HIDDEN.match(c) for c in SHOWN_SAMPLES)
    assert HIDDEN_ASCII == bytes(range(0, 9)) + bytes(range(11, 32)) + b"\x7f"


def test_every_output_path_uses_it():
    from t2e_tui.ui import safe_render

    assert safe_render._UNSAFE is HIDDEN  # (the app's strips: see test_hostile_output)
    for c in HIDDEN_SAMPLES:
        # (alone: an ESC or C1 CSI would take the next character as its own; \r is a newline)
        assert textsafe.strip_controls(c) in ("", "\n")
        assert textsafe.visible_escapes(f"a{c}b") == f"a\\u{ord(c):04x}b"
    for c in SHOWN_SAMPLES.replace("\t", ""):
        assert textsafe.strip_controls(f"a{c}b") == f"a{c}b"
        assert textsafe.visible_escapes(f"a{c}b") == f"a{c}b"


def test_run_names_refuse_it_and_tabs_and_newlines():
    for c in HIDDEN_SAMPLES + "\t\n":
        assert UNSHOWN.search(f"run{c}x")
        assert run_name_problem(f"run{c}x") is not None
    assert run_name_problem("run \xe9 \u202f ok") is None


def test_has_hidden_agrees_with_the_pattern_in_ascii_latin1_and_wide_text():
    """has_hidden's fast paths (ASCII, Latin-1) say what HIDDEN.search says, for every
    character up to U+2FFF and the surrogates, inside text of each width."""
    from store.hidden import HIDDEN, has_hidden

    chars = [chr(c) for c in range(0x3000)] + ["\ud800", "\udfff"]
    for ctx in ("plain %s text", "caf\u00e9 %s", "\u2019quoted\u2019 %s", "\U0001f600 %s"):
        for ch in chars:
            text = ctx % ch
            assert has_hidden(text) is (HIDDEN.search(text) is not None), (ctx, hex(ord(ch)))
