"""Every command against the hostile-input table in bad_inputs.yaml (adding a case = adding an entry)."""
from __future__ import annotations

import hashlib
import json
import pickle
import shutil
from pathlib import Path

import pytest
import yaml

from helpers.cli import REPO, run_privib
from helpers.payloads import Payload

pytestmark = pytest.mark.slow
CASES = yaml.safe_load((Path(__file__).with_name("bad_inputs.yaml")).read_text())
TINY = {
    "trainer": {"max_epochs": 1, "enable_progress_bar": False},
    "wandb": {"enabled": False},
    "evaluation": {
        "attackers": [{"name": "logreg", "class_path": "sklearn.linear_model.LogisticRegression",
                       "init_args": {"max_iter": 300}, "standardize": True}],
        "probes": [{"name": "logreg", "class_path": "sklearn.linear_model.LogisticRegression",
                    "init_args": {"max_iter": 300}, "standardize": True}],
        "attack_both": False, "raw_reference": False, "n_boot": 20, "robustness": {},
        "downstream": None, "encoder_holder": False, "k_releases": [],
    },
}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, adult_root) -> dict[str, Path]:
    """A tiny trained run with its export, and a raw Adult CSV with a header."""
    import pandas as pd

    from privib.data.adult import COLUMNS

    work = tmp_path_factory.mktemp("hostile")
    (work / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    done = run_privib("run", "--config", str(REPO / "configs" / "adult.yaml"), "--config", "tiny.yaml", cwd=work,
                      env={"PRIVIB_DATA_DIR": str(adult_root)})
    assert done.returncode == 0, done.stderr[-3000:]
    test_file = Path(adult_root) / "adult" / "adult.test"
    frame = pd.read_csv(test_file if test_file.is_file() else Path(adult_root) / "adult.test", names=COLUMNS,
                        skiprows=1, skipinitialspace=True, nrows=300)
    frame.to_csv(work / "adult_rows.csv", index=False)
    return {"run": work / done.stdout.strip().splitlines()[-1], "adult_csv": work / "adult_rows.csv",
            "tiny": work / "tiny.yaml"}


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.rglob("*") if p.is_file() and p.stat().st_size < 100_000_000
            and p.name != ".lock"}  # privib's own lock file records its latest holder


def _mutate(case_dir: Path, step: dict) -> None:
    path = case_dir / step["path"]
    action = step["action"]
    if action == "delete":
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    elif action == "truncate":
        path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 3)])
    elif action == "pickle":
        path.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    elif action == "swap":
        other = case_dir / step["other"]
        content = path.read_bytes()
        path.write_bytes(other.read_bytes())
        other.write_bytes(content)
    elif action == "text":
        path.write_text(step["text"])
    elif action == "yaml_set":  # set a dotted key of a YAML file, e.g. a hostile attacker in a run's config.yaml
        document = yaml.safe_load(path.read_text())
        *parents, last = step["key"].split(".")
        node = document
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = step["value"]
        path.write_text(yaml.safe_dump(document, sort_keys=False))
    elif action == "payload":  # a real checkpoint plus an object whose unpickling runs `touch <marker>`
        import torch

        checkpoint = torch.load(path, weights_only=True)
        checkpoint["payload"] = Payload(str(case_dir / step["marker"]))
        torch.save(checkpoint, path)
    else:
        raise ValueError(f"unknown mutate action {action}")


def _prepare(case: dict, case_dir: Path, prepared: dict[str, Path]) -> list[str]:
    if case.get("copy_run"):  # first, so that `files` can add to or replace what is in the run
        shutil.copytree(prepared["run"], case_dir / "run", ignore=shutil.ignore_patterns("wandb"))
    for name, text in (case.get("files") or {}).items():
        (case_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (case_dir / name).write_bytes(text.encode("utf-8", "surrogatepass"))
    for name, spec in (case.get("csv") or {}).items():
        header = spec["header"].split(",")
        rows = [spec["row"].format(i=i, i2=i % 2, i3=i % 3).split(",") for i in range(spec["rows"])]
        for where, value in (spec.get("cells") or {}).items():
            row, column = where.split(":")
            rows[int(row)][header.index(column)] = str(value)
        (case_dir / name).write_text("\n".join([spec["header"], *(",".join(r) for r in rows)]) + "\n")
    for name, spec in (case.get("sparse") or {}).items():
        with open(case_dir / name, "wb") as handle:
            handle.write(spec["head"].encode())
            handle.truncate(spec["size_mb"] * 1024 * 1024)
    for step in case.get("mutate") or []:
        _mutate(case_dir, step)
    args = [str(a) for a in case["args"]]
    for key, value in prepared.items():
        args = [a.replace("{" + key + "}", str(value)) for a in args]
    return args


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_hostile_input(case, prepared, tmp_path, adult_root):
    args = _prepare(case, tmp_path, prepared)
    before = _snapshot(tmp_path)
    env = {"PRIVIB_DATA_DIR": str(adult_root), **{k: str(v) for k, v in (case.get("env") or {}).items()}}
    result = run_privib(*args, cwd=tmp_path, env=env, timeout=300)
    assert result.returncode == case.get("exit", 2), (result.returncode, result.stderr[-2000:])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("privib: error: ")]
    others = [line for line in lines if line not in errors and not line.startswith("privib: INFO")]
    assert len(errors) == 1 and not others, result.stderr[-2000:]
    assert case["expect"].lower() in errors[0].lower(), errors[0]
    assert "Traceback" not in result.stderr
    after = _snapshot(tmp_path)
    assert {k: after.get(k) for k in before} == before, "a file that existed before was changed or removed"
    for status in tmp_path.rglob("status.json"):
        if str(status.relative_to(tmp_path)) not in before:
            assert json.loads(status.read_text())["state"] != "finished"
    for name in case.get("absent") or []:  # e.g. the marker a hostile payload would have created
        assert not (tmp_path / name).exists(), f"{name} exists: hostile input ran code"


def test_the_table_covers_every_command_and_enough_cases():
    commands = {case["args"][0] for case in CASES}
    assert {"run", "evaluate", "export", "encode", "inspect", "compare", "sweep"} <= commands
    assert len(CASES) >= 25
    assert len({case["id"] for case in CASES}) == len(CASES)
