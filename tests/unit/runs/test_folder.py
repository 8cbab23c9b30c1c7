"""The run folder: names that no file system takes, and run directories that cannot hold one, are refused."""
from __future__ import annotations

import pytest

from privib.runs.folder import create_run_folder


def test_run_names_that_no_file_system_takes_are_refused(tmp_path):
    from privib.errors import ConfigError

    with pytest.raises(ConfigError, match="bytes long"):
        create_run_folder(tmp_path, "n" * 300)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigError, match="pass a writable --runs_dir"):
        create_run_folder(tmp_path / "afile", "ok")
