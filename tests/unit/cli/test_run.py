"""`privib run` from the command line (in-process, through privib.cli.main)."""
from __future__ import annotations

from privib.cli import main


def test_unknown_method_on_the_command_line_is_one_error_line(capsys):
    assert main(["run", "--method", "nosuch"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0] == ("privib: error: unknown method 'nosuch': use one of adv, cells, cvib, fair_predict, fcrl, laftr, "
                                     "lfr, mlp, noise, predict, raw, vib, vib_adv, vib_mix, vib_recon")
