"""`privib run --help` is printed from the privib cache after the first call, with the same text."""
from __future__ import annotations

import pytest

from privib.pipeline.config import parse_run_config


def _help(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        parse_run_config([*argv, "--help"])
    assert exit_info.value.code in (0, None)
    return capsys.readouterr().out


def test_help_is_stored_and_printed_from_the_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PRIVIB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("PRIVIB_CACHE", raising=False)
    monkeypatch.setenv("COLUMNS", "100")
    built = _help(capsys)
    assert "--model.beta" in built and "--trainer.max_epochs" in built
    stored = list((tmp_path / "cache" / "help").glob("run-*.txt"))
    assert len(stored) == 1 and stored[0].read_text() == built
    stored[0].write_text(built + "(from the cache)\n")  # the second call must not rebuild the parser
    assert _help(capsys) == built + "(from the cache)\n"


def test_another_config_or_width_is_another_entry(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PRIVIB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("PRIVIB_CACHE", raising=False)
    monkeypatch.setenv("COLUMNS", "100")
    config = tmp_path / "c.yaml"
    config.write_text("model:\n  beta: 0.5\n")
    _help(capsys, "--config", str(config))
    config.write_text("model:\n  beta: 0.25\n")  # the key covers the config files' content
    _help(capsys, "--config", str(config))
    monkeypatch.setenv("COLUMNS", "140")
    wide = _help(capsys, "--config", str(config))
    assert len(list((tmp_path / "cache" / "help").glob("run-*.txt"))) == 3
    assert max(len(line) for line in wide.splitlines()) > 100


def test_cache_off_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PRIVIB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PRIVIB_CACHE", "0")
    assert "--model.beta" in _help(capsys)
    assert not (tmp_path / "cache").exists()
