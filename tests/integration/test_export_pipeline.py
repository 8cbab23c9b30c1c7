"""Export end to end on real Adult: the pipeline stage, W&B artifact, parity, a fresh-process round trip, the CLIs.

One tiny run (1 epoch; evaluation cut to a logistic-regression probe and attacker; numeric inputs
also in bins) is trained per module and shared by every test.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from helpers.cli import REPO, run_privib

pytestmark = pytest.mark.slow
PARITY = 1e-5
PROBE_TOLERANCE = 0.002  # codes agree to ~1e-6: at most a handful of the 15,060 test rows may flip
ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
    "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country", "income",
]
LOGREG = {"name": "logreg", "class_path": "sklearn.linear_model.LogisticRegression",
          "init_args": {"max_iter": 2000}, "standardize": True}


def _has_evaluation() -> bool:
    try:
        from privib.evaluation.options import EvaluationOptions  # noqa: F401
        from privib.pipeline.stages import get_stage

        get_stage("evaluate")
    except Exception:
        return False
    return True


def _wandb_env(work: Path) -> dict[str, str]:
    return {k: str(work / "wandb-home" / k.lower()) for k in ("WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR")}


def _wandb_records(run_dir: Path) -> list[dict]:
    """Records of an offline W&B run, read with `wandb leet inspect --json`."""
    wandb_cli = Path(sys.executable).with_name("wandb")
    if not wandb_cli.is_file():
        pytest.skip("the wandb command is not installed beside this Python")
    done = subprocess.run([str(wandb_cli), "leet", "inspect", "--json", str(run_dir)], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        pytest.skip(f"`wandb leet inspect` is unavailable: {done.stderr.strip()[:200]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def run(tmp_path_factory, adult_root):
    """(run folder, work dir, env) of a 1-epoch run whose pipeline ends with the export stage, W&B offline."""
    work = tmp_path_factory.mktemp("export_run")
    stages = ["fit", "evaluate", "export"] if _has_evaluation() else ["fit", "export"]
    (work / "pipeline.yaml").write_text(yaml.safe_dump({"stages": stages}))
    extra = {"name": "exp", "runs_dir": str(work / "runs"), "pipeline": str(work / "pipeline.yaml"),
             "trainer": {"max_epochs": 1, "enable_progress_bar": False}, "wandb": {"mode": "offline"},
             # the mean is released here so codes compare exactly with the checkpoint's own encoder;
             # the sampled release is covered in tests/unit/export (encode() follows the metadata)
             "model": {"release": "mean"},
             # numeric bins: raw records through the exported preprocess.json must bin as training did
             "data": {"numeric_bins": 16}}
    if "evaluate" in stages:
        extra["evaluation"] = {"attackers": [LOGREG], "probes": [LOGREG], "attack_both": False,
                               "raw_reference": False, "n_boot": 20, "robustness": {}, "downstream": None,
                               "encoder_holder": False, "k_releases": []}
    (work / "tiny.yaml").write_text(yaml.safe_dump(extra))
    env = {"PRIVIB_DATA_DIR": str(adult_root), **_wandb_env(work)}
    done = run_privib("run", "--config", str(REPO / "configs" / "adult.yaml"), "--config", str(work / "tiny.yaml"),
                      cwd=work, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    folder = Path(done.stdout.strip().splitlines()[-1])
    return (folder if folder.is_absolute() else work / folder), work, env


@pytest.fixture(scope="module")
def datamodule(run):
    from privib.data.datamodule import PrivibDataModule

    config = yaml.safe_load((run[0] / "config.yaml").read_text())
    dm = PrivibDataModule(**config["data"])
    dm.setup()
    return dm


@pytest.fixture(scope="module")
def adult_test_path(adult_root) -> Path:
    return next(p for p in (adult_root / "adult" / "adult.test", adult_root / "adult.test") if p.is_file())


@pytest.fixture(scope="module")
def adult_test_raw(adult_test_path) -> pd.DataFrame:
    """adult.test as a downstream user reads it with plain pandas: header line skipped, '?' rows dropped."""
    frame = pd.read_csv(adult_test_path, header=None, names=ADULT_COLUMNS, skiprows=1, skipinitialspace=True, na_values=["?"])
    return frame.dropna().reset_index(drop=True)


def test_the_export_stage_writes_a_complete_export_folder(run, datamodule):
    from privib.export import spec

    folder = run[0]
    export = folder / "export"
    assert json.loads((folder / "status.json").read_text())["state"] == "finished"
    assert {p.name for p in export.iterdir()} == {
        "encoder.safetensors", "encoder.onnx", "encoder.pt2", "preprocess.json", "config.yaml", "metrics.json",
        "MODEL_CARD.md", "manifest.json"}
    assert not list(export.glob("*.data")), "the ONNX model must be one file"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["export/parity/onnx_max_abs_err"] <= PARITY and metrics["export/parity/pt2_max_abs_err"] <= PARITY
    assert not any(k.endswith("seconds") for k in metrics)  # durations live in timings.json
    assert json.loads((folder / "timings.json").read_text())["time/export/seconds"] > 0
    assert metrics["export/wandb_artifact"] == 1.0
    manifest = json.loads((export / "manifest.json").read_text())
    meta = manifest["metadata"]
    config = yaml.safe_load((folder / "config.yaml").read_text())
    assert meta["config_sha256"] == spec.config_sha256(config)
    assert meta["train_rows"] == len(datamodule.splits["train"]) and meta["dataset"] == "adult"
    assert meta["feature_names"] == datamodule.preprocessor.feature_names and meta["z_dim"] == config["model"]["z_dim"]
    assert datamodule.preprocessor.binned and json.loads((export / "preprocess.json").read_text())["numeric_bins"] == 16
    assert (export / "config.yaml").read_text() == (folder / "config.yaml").read_text()
    card = (export / "MODEL_CARD.md").read_text()
    assert "not proven absent" in card and f"{meta['train_rows']} training rows" in card
    if "leakage/sex/auc_max" in metrics:
        assert f"{metrics['leakage/sex/auc_max']:.4f} [" in card and "fresh attackers used: logreg" in card


def test_the_export_is_logged_to_wandb_as_a_model_artifact(run):
    folder = run[0]
    offline = sorted((folder / "wandb").glob("offline-run-*"))
    assert offline, "the run has no offline W&B run"
    artifacts = [r["artifact"] for r in _wandb_records(offline[0]) if r.get("type") == "artifact"]
    assert len(artifacts) == 1
    artifact = artifacts[0]
    assert artifact["type"] == "model" and artifact["name"] == f"encoder-{folder.name}"
    assert {"latest", "best"} <= set(artifact["aliases"])
    paths = {entry["path"] for entry in artifact["manifest"]["contents"]}
    assert {"encoder.onnx", "encoder.safetensors", "encoder.pt2", "preprocess.json", "MODEL_CARD.md"} <= paths
    assert json.loads(artifact["metadata"])["data_fingerprint"]


def test_checkpoint_torch_backend_pt2_and_onnx_agree_on_raw_adult_records(run, datamodule, adult_test_raw):
    import torch

    import privib
    from privib.export.modules import MeanLogVarEncoder
    from privib.models.checkpoint import load_trained_model

    export = run[0] / "export"
    trained = load_trained_model(run[0] / "checkpoints" / "best.ckpt")
    x = datamodule.splits["test"].x
    with torch.no_grad():
        reference = [t.numpy() for t in MeanLogVarEncoder(trained.model.encoder).eval()(x)]
        pt2 = [t.numpy() for t in torch.export.load(export / "encoder.pt2").module()(x)]
    outputs = {
        "pt2": pt2,
        "torch": privib.load_encoder(export, backend="torch").encode_distribution(adult_test_raw),
        "onnx": privib.load_encoder(export, backend="onnx").encode_distribution(adult_test_raw),
    }
    errors = {name: max(float(np.abs(got - want).max()) for got, want in zip(out, reference)) for name, out in outputs.items()}
    print("max |difference| vs the checkpoint's encoder on", len(x), "Adult test rows:", errors)
    assert all(err <= PARITY for err in errors.values()), errors


def test_round_trip_in_a_fresh_process_reproduces_the_probe_accuracy(run, datamodule, adult_test_path, tmp_path):
    """Encode in a process that never imports Lightning; a probe on those codes matches the run's."""
    export = run[0] / "export"
    datamodule.frames["train"].to_parquet(tmp_path / "train.parquet")
    script = textwrap.dedent(f"""
        import sys
        import numpy as np, pandas as pd
        import privib
        columns = {ADULT_COLUMNS!r}
        test = pd.read_csv({str(adult_test_path)!r}, header=None, names=columns, skiprows=1, skipinitialspace=True, na_values=["?"]).dropna()
        train = pd.read_parquet({str(tmp_path / 'train.parquet')!r})
        onnx = privib.load_encoder({str(export)!r}, backend="onnx")
        z_test_onnx = onnx.encode(test)
        assert "torch" not in sys.modules
        encoder = privib.load_encoder({str(export)!r}, backend="torch")
        np.save({str(tmp_path / 'z_train.npy')!r}, encoder.encode(train))
        np.save({str(tmp_path / 'z_test.npy')!r}, encoder.encode(test))
        np.save({str(tmp_path / 'z_test_onnx.npy')!r}, z_test_onnx)
        test["income"].str.rstrip(".").to_csv({str(tmp_path / 'income.csv')!r}, index=False)
        heavy = [m for m in ("pytorch_lightning", "lightning", "wandb", "privib.training", "privib.pipeline") if m in sys.modules]
        assert not heavy, heavy
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-3000:]
    z_train, z_test = np.load(tmp_path / "z_train.npy"), np.load(tmp_path / "z_test.npy")
    assert np.abs(np.load(tmp_path / "z_test_onnx.npy") - z_test).max() <= PARITY
    y_train, y_test = datamodule.splits["train"].y.numpy(), datamodule.splits["test"].y.numpy()
    income = pd.read_csv(tmp_path / "income.csv")["income"]
    assert len(income) == len(y_test) == 15060
    positive = datamodule.spec.target_classes.index(">50K")
    np.testing.assert_array_equal((income == ">50K").to_numpy(), y_test == positive)

    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from privib.models.checkpoint import load_trained_model

    trained = load_trained_model(run[0] / "checkpoints" / "best.ckpt")
    with torch.no_grad():
        own_train = trained.model.encoder(datamodule.splits["train"].x)[0].numpy()
        own_test = trained.model.encoder(datamodule.splits["test"].x)[0].numpy()
    assert np.abs(own_test - z_test).max() <= PARITY

    def logreg_accuracy(train: np.ndarray, test: np.ndarray) -> float:
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=0)).fit(train, y_train)
        return float((model.predict(test) == y_test).mean())

    exported, own = logreg_accuracy(z_train, z_test), logreg_accuracy(own_train, own_test)
    print(f"logistic-regression probe accuracy: exported codes {exported:.4f}, checkpoint codes {own:.4f}")
    assert abs(exported - own) <= PROBE_TOLERANCE and exported > 0.75
    metrics = json.loads((run[0] / "metrics.json").read_text())
    if "task/probe/logreg/acc" in metrics:  # the evaluate stage's own probe, same spec and seed
        from privib.evaluation.task_probes import probe

        config = yaml.safe_load((run[0] / "config.yaml").read_text())
        seed = config["evaluation"].get("random_state") or config.get("seed_everything") or 0
        ours = probe(z_train, y_train, z_test, y_test, config["evaluation"]["probes"], random_state=seed)
        print(f"run's reported probe accuracy {metrics['task/probe/logreg/acc']:.4f}, on exported codes {ours['logreg/acc']:.4f}")
        assert abs(ours["logreg/acc"] - metrics["task/probe/logreg/acc"]) <= PROBE_TOLERANCE


def test_privib_export_on_demand_writes_the_formats_asked_and_a_wandb_artifact(run, tmp_path):
    folder, work, env = run
    out = tmp_path / "ondemand"
    before = set((folder / "wandb").glob("offline-run-*"))
    done = run_privib("export", str(folder), "--format", "onnx,safetensors", "--checkpoint", "last", "--out", str(out),
                      cwd=work, env=env, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == str(out)
    assert "max |diff| vs torch: onnx" in done.stderr
    names = {p.name for p in out.iterdir()}
    assert {"encoder.onnx", "encoder.safetensors", "MODEL_CARD.md"} <= names and "encoder.pt2" not in names
    assert "last.ckpt" in (out / "MODEL_CARD.md").read_text()
    new_runs = sorted(set((folder / "wandb").glob("offline-run-*")) - before)
    assert len(new_runs) == 1
    records = _wandb_records(new_runs[0])
    run_id = json.loads((folder / "status.json").read_text())["wandb_id"]
    assert new_runs[0].name.endswith(f"-{run_id}")  # logged into the run's own W&B run, not a new one
    assert [r["artifact"]["type"] for r in records if r.get("type") == "artifact"] == ["model"]


def test_privib_encode_streams_adult_csv_and_refuses_bad_input_in_one_line(run, adult_test_raw, tmp_path):
    import privib

    folder, work, env = run
    source = tmp_path / "adult_test.csv"
    adult_test_raw.assign(id=np.arange(len(adult_test_raw))).to_csv(source, index=False)
    out = tmp_path / "z.parquet"
    done = run_privib("encode", str(folder / "export"), str(source), "-o", str(out), "--backend", "onnx",
                      "--keep", "id", "--batch-size", "4000", cwd=work, env=env, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "encoded 15060 rows" in done.stderr
    assert "ignoring 2 column(s)" in done.stderr and "'sex'" in done.stderr and "'income'" in done.stderr
    codes = pd.read_parquet(out)
    assert codes["id"].tolist() == list(range(15060))
    expected = privib.load_encoder(folder / "export").encode(adult_test_raw)
    assert np.abs(codes.drop(columns="id").to_numpy() - expected).max() <= PARITY

    adult_test_raw.drop(columns=["age"]).to_csv(tmp_path / "no_age.csv", index=False)
    bad = run_privib("encode", str(folder / "export"), str(tmp_path / "no_age.csv"), "-o", str(tmp_path / "bad.parquet"),
                     cwd=work, env=env, timeout=120)
    assert bad.returncode == 2
    lines = [line for line in bad.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("privib: error:") and "['age']" in lines[0], bad.stderr
    assert not (tmp_path / "bad.parquet").exists()
