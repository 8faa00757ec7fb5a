"""Output you can pipe: `t2e runs`, `episodes`, `search` and `scoreboard` into a pipe print one
tab-separated record per line, nothing wrapped or cut; each search hit names the episode the
way `t2e show` takes it; --json is unchanged; --table keeps the terminal table."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from tui_fixture import HOSTILE, build_store

T2E = [sys.executable, "-m", "t2e_tui.cli"]
LONG = "a run with a name long enough that an eighty column table would have to cut it short"


def t2e(store, *args, env=None):
    # a real pipe: stdout is not a terminal, as in `t2e runs | cut -f2`
    r = subprocess.run(T2E + ["--store", str(store), *args], capture_output=True, text=True,
                       timeout=120, env=env)
    return r.returncode, r.stdout, r.stderr


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    path = tmp_path_factory.mktemp("pipe") / "fx.sqlite"
    ids = build_store(path)
    code, _, err = t2e(path, "runs", "rename", "candidate", LONG)
    assert code == 0, err
    return path, ids


def records(out: str) -> tuple[list[str], list[list[str]]]:
    lines = out.rstrip("\n").split("\n")
    return lines[0].split("\t"), [line.split("\t") for line in lines[1:]]


def test_runs_into_a_pipe_one_whole_record_per_line(fx):
    path, _ = fx
    code, out, err = t2e(path, "runs")
    assert code == 0, err
    head, rows = records(out)
    assert head[:2] == ["run_id", "name"] and "source" in head
    assert len(rows) == 4 and all(len(r) == len(head) for r in rows)
    by_id = {r[0]: dict(zip(head, r)) for r in rows}
    assert by_id["runcand"]["name"] == LONG  # whole, not cut to a terminal's width
    assert by_id["runbase"]["source"] == "fixtures/baseline.json"
    assert "…" not in out


def test_table_flag_keeps_the_terminal_table(fx):
    path, _ = fx
    code, out, _ = t2e(path, "runs", "--table", env={"COLUMNS": "80", "PATH": ""})
    assert code == 0 and "\t" not in out and "…" in out


def test_search_hits_carry_a_reference_show_accepts(fx):
    path, ids = fx
    code, out, err = t2e(path, "search", "exchange")
    assert code == 0, err
    head, rows = records(out)
    assert head == ["ref", "step", "episode_id", "run_id", "task_id", "role", "snippet"]
    assert rows and all(len(r) == len(head) for r in rows)
    hit = dict(zip(head, rows[0]))
    code, shown, err = t2e(path, "show", hit["ref"], "--json")
    assert code == 0, err
    doc = json.loads(shown)
    assert doc["episode_id"] == int(hit["episode_id"])
    assert any(s["idx"] == int(hit["step"]) for s in doc["steps"])


def test_search_text_in_a_record_is_made_safe(fx):
    path, _ = fx
    code, out, _ = t2e(path, "search", "markup")
    assert code == 0
    assert "\x1b" not in out and "[bold red]not «markup»[/]" in out  # shown, not run
    assert all(line.count("\t") == 6 for line in out.rstrip("\n").split("\n"))
    assert HOSTILE not in out


def test_search_without_hits_says_so_on_stderr(fx):
    path, _ = fx
    code, out, err = t2e(path, "search", "zebra")
    assert code == 0 and out.strip() == "ref\tstep\tepisode_id\trun_id\ttask_id\trole\tsnippet"
    assert "no matches for 'zebra'" in err


def test_episodes_into_a_pipe(fx):
    path, _ = fx
    code, out, err = t2e(path, "episodes", "baseline")
    assert code == 0, err
    head, rows = records(out)
    assert head[:2] == ["episode_id", "ref"] and len(rows) == 4
    assert [r[1] for r in rows] == [f"runbase:{t}/t0" for t in "1234"]


def test_scoreboard_into_a_pipe_is_the_tsv(fx):
    path, _ = fx
    code, _, err = t2e(path, "gate", "baseline", "runcand", "--json")
    assert code in (0, 1, 3), err
    piped = t2e(path, "scoreboard")[1]
    assert piped == t2e(path, "scoreboard", "--tsv")[1]
    head, rows = records(piped)
    assert len(rows) == 1 and len(rows[0]) == len(head)


def test_json_is_unchanged_into_a_pipe(fx):
    path, _ = fx
    rows = json.loads(t2e(path, "runs", "--json")[1])
    # the same keys as on a terminal (#12 added scored, running and infrastructure counts)
    assert list(rows[0])[:6] == ["run_id", "name", "role", "source", "world_id", "episodes"]
    assert {"reward", "pass_rate", "termination", "scored"} <= set(rows[0])
    hits = json.loads(t2e(path, "search", "exchange", "--json")[1])
    assert "ref" not in hits[0] and {"episode_id", "idx", "snippet"} <= set(hits[0])


def test_failures_into_a_pipe_keeps_whole_lines(fx):
    """The failures report is lines, not a table: into a pipe each line is whole (a finding
    or a cluster longer than 80 columns is not cut with …), as the --json document has it."""
    path, _ = fx
    code, out, err = t2e(path, "failures", "runcand", "--clusters")
    assert code == 0, err
    doc = json.loads(t2e(path, "failures", "runcand", "--clusters", "--json")[1])
    why = doc["episodes"][0]["classes"][0]["why"]
    explanation = doc["clusters"][0]["explanation"]
    assert len(why) + 8 > 80 and len(explanation) > 80     # a terminal's 80 columns would cut
    assert "        " + why in out.splitlines()
    assert any(line.endswith(explanation) for line in out.splitlines())
    assert "…" not in out
