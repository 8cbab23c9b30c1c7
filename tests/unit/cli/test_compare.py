"""`privib compare` from the command line: run and sweep folders, bad input, a W&B host that never answers.

The ``sweep_folder`` fixture is in tests/unit/conftest.py, the fake W&B hosts in tests/conftest.py.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers.records import make_run
from privib.cli import main
from privib.cli.compare import main as compare_command


def test_compare_command_on_run_and_sweep_folders(sweep_folder, tmp_path, capsys, monkeypatch):
    folder, _ = sweep_folder
    assert compare_command([str(folder)]) == 0
    out = capsys.readouterr().out
    assert "vib_adv" in out and "best acc @ AUC<=0.6" in out and "±" in out
    assert (folder / "compare" / "pareto.png").is_file()  # a single sweep folder gets its own compare/
    one_run = next((folder / "runs").glob("mlp-2025*"))
    monkeypatch.chdir(tmp_path)
    assert compare_command([str(one_run), "--out", "cmp", "--no-plot", "--thresholds", "0.6,0.9"]) == 0
    assert (tmp_path / "cmp" / "table.csv").is_file() and not (tmp_path / "cmp" / "pareto.png").exists()


@pytest.mark.parametrize("argv, needle", [
    (["{empty}"], "no finished runs to compare"),
    (["{failed}"], "no finished runs to compare"),
    (["{missing}"], "does not exist"),
    ([], "pass run or sweep folders"),
    (["{failed}", "--thresholds", "0.3"], "thresholds"),
    (["--group", "g"], "--group selects W&B runs"),
    (["--wandb", "just-a-project"], "ENTITY/PROJECT"),
])
def test_bad_input_is_one_error_line_and_exit_2(argv, needle, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    (tmp_path / "empty").mkdir()
    make_run(tmp_path / "failed", "x", "mlp", {}, 0, {}, state="failed")
    names = {"{empty}": str(tmp_path / "empty"), "{failed}": str(tmp_path / "failed"), "{missing}": str(tmp_path / "nope")}
    code = main(["compare", *[names.get(a, a) for a in argv]])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("privib: error: ") and needle in err[0], err


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("no_wandb_left_running")
def test_compare_wandb_ends_with_one_error_line(
    silent_host: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", "--wandb", "me/privib", "--out", str(tmp_path / "cmp")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("privib: error: ") and silent_host in lines[0]
    assert "did not answer" in lines[0]


def test_compare_on_the_dp_axis_defaults_to_the_protocol_and_its_thresholds(tmp_path, capsys):
    for seed in range(2):
        make_run(tmp_path / "runs", "v", "vib_adv", {}, seed, {"task/test/acc": 0.8, "downstream/acc": 0.78,
                                                                "leakage/sex/auc_max": 0.6, "downstream/sex/dp_gap": 0.08})
    assert compare_command([str(tmp_path / "runs"), "--x", "dp_gap", "--out", str(tmp_path / "cmp"), "--no_plot"]) == 0
    out = capsys.readouterr().out
    assert "best acc @ DP<=0.05" in out and "best acc @ DP<=0.2" in out and "0.780" in out
    assert compare_command([str(tmp_path / "runs"), "--x", "dp_gap", "--fairness", "head", "--out",
                            str(tmp_path / "cmp"), "--no_plot"]) == 0
    assert "note: no run has DP gaps (fairness/<attr>/dp_gap)" in capsys.readouterr().out
    assert main(["compare", str(tmp_path / "runs"), "--x", "dp_gap", "--thresholds", "1.5"]) == 2
    assert "DP gaps (with --x dp_gap) in [0, 1]" in capsys.readouterr().err
