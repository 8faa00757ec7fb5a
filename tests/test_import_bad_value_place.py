"""A value the store cannot hold is located where it is (review s15 M5).

Before: a tau2 1.x simulation file with `"reward": NaN` on line 11 was refused with
"simulations/sim-text-2.json: field reward_info.reward: NaN (not a number JSON allows) (in
the value at character 0 (line 1))": the position of the whole simulation, not of the NaN.
Now the streaming reader points at the bad number (or string) itself.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

import store
from store.importers import ImportFailure, import_path
from world.jsonstream import JsonStream, JsonStreamError

RUN = Path(__file__).parent / "fixtures" / "tau2_1x" / "voice_run"


@pytest.mark.parametrize("old, new, said", [
    ('"reward": 0.0,', '"reward": NaN,', "field reward_info.reward: NaN"),
    ('"agent_cost": 0.01', '"agent_cost": 1' + "0" * 24, "field agent_cost: a 25-digit integer"),
    ('"duration": 3.0', '"duration": 1e999', "field duration: the number 1e999"),
], ids=["nan", "bigint", "infinite"])
def test_a_bad_number_in_a_simulation_file_is_located(tmp_path, old, new, said):
    run = tmp_path / "run"
    shutil.copytree(RUN, run)
    f = run / "simulations" / "sim-text-2.json"
    text = f.read_text()
    assert old in text
    text = text.replace(old, new, 1)
    f.write_text(text)
    at = text.index(new.split(": ")[1])
    line = text.count("\n", 0, at) + 1
    assert line > 1
    db = store.open_db(tmp_path / "s.sqlite")
    with pytest.raises(ImportFailure) as exc:
        import_path(db, run)
    msg = str(exc.value)
    assert f"simulations/sim-text-2.json: {said}" in msg, msg
    assert msg.endswith(f"(at character {at} (line {line}))"), msg


def test_a_lone_surrogate_is_located_past_strings_that_look_like_numbers():
    # "NaN" and a long digit string inside text are no bad values; the surrogate is
    text = ('{"a": "NaN 100000000000000000000000",\n "b": [1, 2.5, -3e2],\n'
            ' "c": "ok \\ud83d\\ude00",\n "d": "bad \\ud800"}')
    with pytest.raises(JsonStreamError) as exc:
        JsonStream(io.BytesIO(text.encode())).read_value()
    at = text.index('"bad')
    assert str(exc.value).endswith(f"(at character {at} (line 4))"), str(exc.value)
    assert "field d: a lone surrogate" in str(exc.value)
    json.loads(text)  # (valid JSON: only the store refuses it)
