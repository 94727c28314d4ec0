import pytest

from assistant.config import load_config, save_config
from assistant.errors import ConfigError


def test_precedence_file_env_flags(home, monkeypatch):
    home.mkdir(parents=True)
    (home / "config.toml").write_text("k = 50\nn = 4\nlearn = false\n")
    monkeypatch.setenv("ASSISTANT_N", "6")
    config = load_config(k=None, lam=0.5)
    assert (config.k, config.n, config.learn, config.lam) == (50, 6, False, 0.5)
    assert load_config(n=9).n == 9


def test_save_keeps_other_settings(home):
    config = save_config(load_config(), k=77, learn=False)
    assert (config.k, config.learn) == (77, False)
    config = save_config(config, n=3)
    again = load_config()
    assert (again.k, again.n, again.learn) == (77, 3, False)


def test_bad_settings_are_clear(home):
    home.mkdir(parents=True)
    (home / "config.toml").write_text("k = 'lots'\n")
    with pytest.raises(ConfigError, match="setting 'k'"):
        load_config()
    (home / "config.toml").write_text("bogus = 1\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        load_config()
    (home / "config.toml").write_text("k = [\n")
    with pytest.raises(ConfigError):
        load_config()
    (home / "config.toml").write_text("")
    with pytest.raises(ConfigError, match="device"):
        load_config(device="tpu")


def bad_values() -> list[tuple[str, object]]:
    """One out-of-range (or wrong-kind) value for every setting that has a rule or a type to break."""
    from assistant.config import RULES, Config

    out = []
    for name, rule in RULES.items():
        if all(isinstance(r, str) for r in rule):
            out.append((name, "bogus"))
        else:
            low = rule[0]
            out.append((name, low - 1 if isinstance(low, int) else -1.0))
    for name, value in vars(Config(home=".")).items():
        if isinstance(value, bool):
            out.append((name, "maybe"))
    return out


@pytest.mark.parametrize("name,value", bad_values())
def test_a_bad_value_gives_one_line_and_exit_1_through_env_and_toml(home, monkeypatch, name, value):
    from click.testing import CliRunner

    from assistant.cli import cli

    monkeypatch.setenv(f"ASSISTANT_{name.upper()}", str(value))
    result = CliRunner().invoke(cli, ["status"])
    assert result.exit_code == 1 and f"setting {name!r}" in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1
    monkeypatch.delenv(f"ASSISTANT_{name.upper()}")
    home.mkdir(parents=True, exist_ok=True)
    literal = f'"{value}"' if isinstance(value, str) else repr(value)
    (home / "config.toml").write_text(f"{name} = {literal}\n")
    result = CliRunner().invoke(cli, ["status"])
    assert result.exit_code == 1 and f"setting {name!r}" in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [["ask", "--k", "0", "q"], ["ask", "--n", "-1", "q"], ["ask", "--lam", "-1", "q"],
                                  ["explain", "--lam", "0", "q"], ["index", "--max-file-mb", "-1", "."]])
def test_a_bad_flag_gives_one_line_and_exit_1(home, args):
    from click.testing import CliRunner

    from assistant.cli import cli

    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: setting") and len(result.output.strip().splitlines()) == 1


def test_the_home_dir_comes_from_platformdirs_unless_set(monkeypatch, tmp_path):
    import platformdirs

    from assistant.config import default_home

    monkeypatch.delenv("ASSISTANT_HOME", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda *a, **k: str(tmp_path / "Library/Application Support/assistant"))
    assert default_home() == tmp_path / "Library/Application Support/assistant"
    legacy = tmp_path / ".local/share/assistant"
    legacy.mkdir(parents=True)
    assert default_home() == legacy  # a home dir from an earlier version is still found
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_home() == tmp_path / "xdg/assistant"
    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path / "mine"))
    assert default_home() == tmp_path / "mine"
