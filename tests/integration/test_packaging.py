"""A non-editable install keeps every shipped preset: the wheel carries configs/ and pipelines/."""
from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_pyproject_lists_every_package_of_the_tree():
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "privib").rglob("__init__.py")}
    shipped = {"privib.configs", "privib.configs.methods", "privib.pipelines"}
    assert listed == found | shipped


@pytest.mark.slow
def test_a_wheel_installed_elsewhere_runs_the_default_and_a_method_preset(tmp_path):
    target = tmp_path / "site"
    built = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                            "--target", str(target), str(REPO)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    assert (target / "privib" / "configs" / "methods" / "vib.yaml").is_file()
    assert (target / "privib" / "pipelines" / "standard.yaml").is_file()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    for args, expected in ((["run", "--method", "vib", "--print_config"], ["method: vib", "beta: 0.01"]),
                           (["run", "--print_config"], ["name: adult", "adv_weight: 2.0"])):
        done = subprocess.run([sys.executable, "-m", "privib.cli", *args], cwd=elsewhere, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        assert all(line in done.stdout for line in expected), done.stdout[:2000]
        probe = subprocess.run([sys.executable, "-c", "import privib.paths as p; print(p.shipped_dir('configs'))"],
                               cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60)
        assert probe.stdout.strip() == str(target / "privib" / "configs")
