"""`privib export` from the command line (in-process, through privib.cli.main)."""
from __future__ import annotations

from privib.cli import main


def test_export_command_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["export", str(tmp_path)]) == 2
    assert "is not a privib run folder" in capsys.readouterr().err
    assert main(["export", str(tmp_path), "--format", "onnx"]) == 2
