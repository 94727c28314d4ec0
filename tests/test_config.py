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
