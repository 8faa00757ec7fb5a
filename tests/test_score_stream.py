"""`t2e score` streams (#18): a results file's simulations are read one at a time, whatever the
order of its top-level keys, and the whole-file reader gives the same data as json.load."""

from __future__ import annotations

import json

import pytest

from world.errors import WorldError
from world.rescore import SimStream, load_results, stream_results


def doc(n=5):
    return {"info": {"environment_info": {"domain_name": "retail"}},
            "tasks": [{"id": str(i)} for i in range(n)],
            "simulations": [{"id": f"s{i}", "task_id": str(i), "messages": [],
                             "reward_info": {"reward": float(i % 2)}} for i in range(n)]}


@pytest.mark.parametrize("order", [("info", "tasks", "simulations"),
                                   ("simulations", "info", "tasks")])
def test_simulations_stream_one_at_a_time_in_any_key_order(tmp_path, order):
    d = doc()
    p = tmp_path / "r.json"
    p.write_text(json.dumps({k: d[k] for k in order}))
    data = stream_results(p)
    assert isinstance(data["simulations"], SimStream)  # an iterator: nothing held yet
    assert data["tasks"] == d["tasks"] and data["info"] == d["info"]
    assert list(data["simulations"]) == d["simulations"]
    assert load_results(p) == json.loads(p.read_text())


def test_streamed_errors_name_the_file(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('{"tasks": [], "simulations": [{"id": 1}, {"id": ]}')
    with pytest.raises(WorldError, match="bad.json"):  # found when the stream reaches it
        list(stream_results(p)["simulations"])
    q = tmp_path / "list.json"
    q.write_text("[1, 2]")
    with pytest.raises(WorldError, match="a bare list"):
        stream_results(q)
