"""`t2e failures RUN --vs BASELINE` on the real retail pair: each flip line quotes the two
sides where they differ (flip 33 quoted the same shared start on both sides)."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from t2e_tui.cli import cli

pytestmark = pytest.mark.shared


def test_every_flip_quotes_two_different_snippets(real_pair):
    store, (base, sft) = real_pair
    res = CliRunner().invoke(cli, ["--store", store, "failures", sft, "--vs", base])
    assert res.exit_code == 0, res.output
    flips = [ln for ln in res.output.splitlines() if ln.startswith("flip ")]
    assert len(flips) == 12
    for line in flips:
        said = re.findall(r'says "(.*?)"(?: vs|\.$)', line)
        assert len(said) == 2 and said[0] != said[1], line
    f33 = next(ln for ln in flips if ln.startswith("flip 33 "))
    assert "work-from-home" in f33 and "plans just did" in f33, f33
