"""Data loading: time to the first training batch, cold (no cache) and warm.

    python benchmarks/bench_data.py                     # default config's data section, 5 repetitions

Each measurement is a fresh process that builds the datamodule of the default config
(``PrivibDataModule(**config["data"]).setup()``: read the files, split, fit and apply the
preprocessing, hold the tensors) and takes the first batch of its training loader.

- ``cold``: empty caches: a fresh Hugging Face ``datasets`` cache (Adult's CSV files are
  read through ``datasets``, which converts them to Arrow and caches the result) and a
  fresh privib cache;
- ``warm``: the same process again with those caches filled by an earlier run;
- ``in-process``: a second datamodule in the same process (modules imported, files in the
  OS page cache), i.e. the cost a stage pays when it rebuilds the data.

Reported: the whole process (interpreter, imports, data) and the data part alone
(datamodule setup + first batch), medians over repetitions.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_CONFIG, base_parser, header, setup_environment, spread, summary, write_json  # noqa: E402

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from privib.pipeline.config import parse_run_config
from privib.data.datamodule import PrivibDataModule
_, config = parse_run_config(["--config", sys.argv[1]])
t1 = time.perf_counter()
datamodule = PrivibDataModule(**config["data"])
datamodule.setup()
batch = next(iter(datamodule.train_dataloader()))
t2 = time.perf_counter()
first_batch_at = time.time()
again = PrivibDataModule(**config["data"])
again.setup()
batch = next(iter(again.train_dataloader()))
t3 = time.perf_counter()
print(json.dumps({"imports_and_config": t1 - t0, "data": t2 - t1, "in_process": t3 - t2, "first_batch_at": first_batch_at,
                  "rows": {k: len(v) for k, v in datamodule.splits.items()}, "batch": list(batch[0].shape)}))
"""


def child(config: str, env: dict[str, str]) -> dict[str, float]:
    started = time.time()
    result = subprocess.run([sys.executable, "-c", CHILD, config], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"data loading failed: {result.stderr[-3000:]}")
    out = json.loads(result.stdout.strip().splitlines()[-1])
    out["process_to_first_batch"] = out.pop("first_batch_at") - started
    return out


def main() -> int:
    setup_environment()
    parser = base_parser(__doc__.split("\n")[0], reps=5)
    parser.add_argument("--config", default=str(DEFAULT_CONFIG))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="privib-bench-data-") as tmp:
        base_env = {**os.environ, "HF_DATASETS_OFFLINE": "1"}
        warm_env = {**base_env, "HF_HOME": str(Path(tmp) / "hf-warm"), "PRIVIB_CACHE_DIR": str(Path(tmp) / "privib-warm")}
        header("data loading: time to the first training batch", [f"config {args.config}; {args.reps} repetitions"])
        child(args.config, warm_env)  # fills the warm caches
        figures: dict[str, dict[str, list[float]]] = {"cold": {}, "warm": {}}
        for rep in range(args.reps):
            cold_env = {**base_env, "HF_HOME": str(Path(tmp) / f"hf-cold-{rep}"),
                        "PRIVIB_CACHE_DIR": str(Path(tmp) / f"privib-cold-{rep}")}
            for kind, env in (("cold", cold_env), ("warm", warm_env)):
                out = child(args.config, env)
                first_batch = out["process_to_first_batch"]
                for key, value in (("data (setup + first batch)", out["data"]), ("process start to first batch", first_batch),
                                   ("in-process rebuild", out["in_process"])):
                    figures[kind].setdefault(key, []).append(value)
            print(f"   rep {rep + 1}: cold data {figures['cold']['data (setup + first batch)'][-1]:.2f}s, "
                  f"warm data {figures['warm']['data (setup + first batch)'][-1]:.2f}s", flush=True)
        print(f"rows: {out['rows']}, first batch x {out['batch']}")
        print("seconds (median [min, max]):")
        for kind, values in figures.items():
            for key, series in values.items():
                if kind == "cold" and key == "in-process rebuild":
                    continue
                label = "in-process rebuild (warm)" if key == "in-process rebuild" else f"{kind}: {key}"
                print(f"   {label:42s} {spread(series)}")
        write_json(args.json, {k: {key: summary(v) for key, v in values.items()} for k, values in figures.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
