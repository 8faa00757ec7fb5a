"""`t2e flywheel` and the failures screen's flywheel view: why it is empty (one sentence for
the CLI and the app), and which run is each version's point (like with like: the same task
set and agent, never a partial rerun)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from store import connect
from t2e_tui.cli.main import cli


def t2e(store, *args):
    return CliRunner().invoke(cli, ["--store", str(store), *args])


def test_imported_runs_only_say_there_is_no_candidate_version_and_what_to_do(real_pair):
    store, _ = real_pair
    out = t2e(store, "flywheel")
    assert out.exit_code == 0, out.output
    # the way out: save a version, then run it (imported runs carry none)
    assert out.output.startswith("no candidate versions yet: ")
    for said in ("imported runs", "t2e candidate save FILE", "t2e run --candidate NAME"):
        assert said in out.output
    assert json.loads(t2e(store, "flywheel", "--json").output) == []
    # one function says it, for the CLI and the app (test_tui_failures.py)
    from t2e_tui.analysis.flywheel import flywheel_chart

    chart = flywheel_chart(connect(store))
    assert chart["rows"] == [] and chart["basis"] is None
    assert out.output == "{}: {}\n".format(*chart["empty"])
