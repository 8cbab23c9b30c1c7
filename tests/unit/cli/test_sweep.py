"""`privib sweep` from the command line: bad input in one error line before anything is written, --dry_run."""
from __future__ import annotations

import pytest

from helpers.sweeps import write_spec
from privib.cli import main


@pytest.mark.parametrize("extra, needle", [
    (["--methods", "vib,nosuch"], "unknown method 'nosuch'"),
    (["--grid", "model.bta=1,2"], "'model.bta' is not a config key"),
    (["--seeds", ""], "no seeds"),
    (["--backend", "slurm"], "invalid choice"),
])
def test_bad_command_lines_are_one_error_line(tmp_path, capsys, extra, needle):
    code = main(["sweep", str(write_spec(tmp_path)), "--dir", str(tmp_path / "s"), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("privib: error: ") and needle in err[0], err
    assert not (tmp_path / "s").exists()


def test_empty_grid_command_line(tmp_path, capsys):
    spec = write_spec(tmp_path, {"stages": ["fit"], "sweep": {"name": "e", "seeds": [0]}})
    assert main(["sweep", str(spec)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "empty grid" in err[0]


def test_dry_run_lists_points(tmp_path, capsys):
    assert main(["sweep", str(write_spec(tmp_path)), "--dir", str(tmp_path / "s"), "--dry-run"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-2] == "10 points, 0 done, 10 to run" and out[-1] == str(tmp_path / "s")
    assert not (tmp_path / "s").exists()
