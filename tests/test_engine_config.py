"""The config file: endpoints, prices, keymap, flag overrides and clear errors."""

from __future__ import annotations

import pytest

from t2e_tui.engine.config import ConfigError, Endpoint, load_config

GOOD = """
[defaults]
endpoint = "local"

[endpoints.local]
base_url = "http://127.0.0.1:8080/v1"
api_key_env = ""
quirks = "llama.cpp"
timeout = 12
params = { temperature = 0.2, seed = 1 }

[endpoints.openai]
base_url = "https://api.openai.com/v1"

[prices."gpt-4.1"]
input = 2.0
output = 8.0

[keymap]
rerun = "r,f5"
"""


def write(tmp_path, text):
    p = tmp_path / "config.toml"
    p.write_text(text)
    return p


def test_parse_endpoints_prices_keymap(tmp_path):
    cfg = load_config(write(tmp_path, GOOD))
    local = cfg.endpoint(None)
    assert local.name == "local" and local.base_url == "http://127.0.0.1:8080/v1"
    assert local.quirks == "llama.cpp" and local.timeout == 12.0
    assert local.params == {"temperature": 0.2, "seed": 1}
    assert local.api_key() == "no-key"             # keyless server
    assert cfg.endpoint("openai").api_key_env == "OPENAI_API_KEY"
    assert cfg.keymap == {"rerun": "r,f5"}
    assert cfg.price("gpt-4.1") == (2.0, 8.0)
    assert cfg.price("openai/gpt-4.1") == (2.0, 8.0)
    assert cfg.price("unknown-model") is None
    assert cfg.cost("gpt-4.1", 1_000_000, 500_000) == pytest.approx(6.0)
    assert cfg.cost("gpt-4.1", None, 5) is None
    assert cfg.cost("unknown-model", 10, 10) is None


def test_flags_override_the_file(tmp_path):
    cfg = load_config(write(tmp_path, GOOD))
    ep = cfg.endpoint("local", base_url="http://10.0.0.1/v1", api_key_env="MY_KEY",
                      params={"temperature": 0.0, "top_k": 5}, timeout=3, quirks="")
    assert ep.base_url == "http://10.0.0.1/v1" and ep.api_key_env == "MY_KEY"
    assert ep.params == {"temperature": 0.0, "seed": 1, "top_k": 5}
    assert ep.timeout == 3.0 and ep.quirks == ""


def test_missing_file_is_empty_and_base_url_alone_is_enough(tmp_path):
    cfg = load_config(tmp_path / "absent.toml")
    assert cfg.endpoints == {} and cfg.prices == {}
    ep = cfg.endpoint(None, base_url="http://h/v1")
    assert ep.base_url == "http://h/v1" and ep.api_key_env == "OPENAI_API_KEY"
    with pytest.raises(ConfigError, match="no endpoint"):
        cfg.endpoint(None)


def test_env_var_points_at_the_config(tmp_path, monkeypatch):
    p = write(tmp_path, GOOD)
    monkeypatch.setenv("T2E_CONFIG", str(p))
    assert load_config().path == p and "local" in load_config().endpoints


@pytest.mark.parametrize("text, message", [
    ("[endpoints.x]\nbase_url = 3\n", "base_url must be a string"),
    ("[endpoints.x]\nbase_uri = 'http://h'\n", "unknown key(s) base_uri"),
    ("[endpoints.x]\nquirks = 'vllm'\n", "quirks must be one of"),
    ("[endpoints.x]\ntimeout = 'slow'\n", "expected a number"),
    ('[prices."m"]\ninput = 1\n', "needs input and output"),
    ("[keymap]\nrerun = 3\n", "[keymap]"),
    ("not toml [", "not valid TOML"),
])
def test_bad_config_names_the_file_and_the_key(tmp_path, text, message):
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert str(p) in str(err.value) and message in str(err.value)


def test_unknown_endpoint_name_lists_the_known_ones(tmp_path):
    cfg = load_config(write(tmp_path, GOOD))
    with pytest.raises(ConfigError, match=r"no endpoint named 'nope' \(known: local, openai\)"):
        cfg.endpoint("nope")


def test_public_settings_round_trip_without_the_key(monkeypatch):
    monkeypatch.setenv("SOME_KEY", "sk-abc")
    ep = Endpoint(name="e", base_url="http://h/v1", api_key_env="SOME_KEY",
                  params={"temperature": 0})
    pub = ep.public()
    assert "sk-abc" not in repr(pub)
    assert Endpoint.from_public(pub) == ep


TWO = """
[endpoints.openai]
base_url = "https://api.openai.com/v1"

[endpoints.local]
base_url = "http://127.0.0.1:8080/v1"
api_key_env = ""
"""


def test_openai_section_is_chosen_for_openai_models_without_defaults(tmp_path):
    # the README example: two sections, no [defaults], `--model openai:gpt-4.1`
    cfg = load_config(write(tmp_path, TWO))
    assert cfg.endpoint(None).name == "openai"
    assert cfg.endpoint("local").name == "local"


def test_several_sections_and_none_chosen_says_how_to_choose(tmp_path):
    p = write(tmp_path, TWO.replace("[endpoints.openai]", "[endpoints.cloud]"))
    cfg = load_config(p)
    with pytest.raises(ConfigError) as err:
        cfg.endpoint(None)
    msg = str(err.value)
    assert str(p) in msg and "cloud, local" in msg
    assert "--endpoint NAME" in msg and "[defaults] endpoint" in msg


def test_no_section_says_what_is_missing(tmp_path):
    p = write(tmp_path, "[prices.\"m\"]\ninput = 1\noutput = 2\n")
    with pytest.raises(ConfigError) as err:
        load_config(p).endpoint(None)
    msg = str(err.value)
    assert str(p) in msg and "no [endpoints.NAME] section" in msg and "--base-url" in msg


def test_openai_run_plans_with_the_openai_section(tmp_path, monkeypatch):
    from t2e_tui.engine.plan import plan_run

    monkeypatch.setenv("T2E_CONFIG", str(write(tmp_path, TWO)))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    plan = plan_run(domain="mini-retail", tasks="all", num_tasks=1, model="openai:gpt-4.1",
                    user="scripted", grade="db-communicate")
    assert plan.agent.endpoint.name == "openai"
    assert plan.agent.endpoint.base_url == "https://api.openai.com/v1"
