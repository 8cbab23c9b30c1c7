"""The run folder: one self-contained, uniquely named directory per run, written atomically.

Every reader and writer of a run's files goes through :class:`RunFolder`: its config, status,
metrics, timings and history, and the lookup of its best and last checkpoints.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from privib.errors import ConfigError, PrivibError
from privib.io import read_json, write_json_atomic, write_yaml_atomic

RUN_DIR_ENV = "PRIVIB_RUN_DIR"
# The folder name create_run_folder makes: <name>-<YYYYmmdd>-<HHMMSS>-<hex id>.
RUN_FOLDER_NAME = re.compile(r"^(?P<name>.+)-\d{8}-\d{6}-[0-9a-f]+$")
_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
STATES = ("running", "finished", "failed")
MAX_NAME_BYTES = 200
FAILURE_FIELDS = ("reason", "epoch", "step")


def create_run_folder(runs_dir: str | os.PathLike[str], name: str) -> Path:
    """Make ``<runs_dir>/<name>-<YYYYmmdd-HHMMSS>-<id>/``; ``mkdir`` without ``exist_ok`` keeps runs apart."""
    if not _NAME_OK.match(name):
        raise ConfigError(f"run name '{name}' must start with a letter or digit and hold only letters, digits, '_', '.', '-'")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise ConfigError(f"run name is {len(name.encode())} bytes long: use at most {MAX_NAME_BYTES} (the folder name adds a "
                          "timestamp and an id, and a file name may hold 255 bytes)")
    parent = Path(runs_dir).expanduser()
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create runs folder {parent} ({exc.strerror}): pass a writable --runs_dir") from exc
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for _ in range(100):
        folder = parent / f"{name}-{stamp}-{secrets.token_hex(3)}"
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise ConfigError(f"cannot create a run folder in {parent} ({exc.strerror}): pass a writable --runs_dir") from exc
        return folder
    raise PrivibError(f"could not create a unique run folder under {parent}")


@dataclass
class RunFolder:
    """Typed access to the files of one run folder."""

    path: Path

    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def status_path(self) -> Path:
        return self.path / "status.json"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.json"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def export_dir(self) -> Path:
        return self.path / "export"

    @property
    def timings_path(self) -> Path:
        return self.path / "timings.json"

    @property
    def history_path(self) -> Path:
        return self.path / "history.json"

    @property
    def report_path(self) -> Path:
        return self.path / "report.md"

    def is_run_folder(self) -> bool:
        """True when the folder holds a config and a status (what compare and sweep count as a run)."""
        return self.config_path.is_file() and self.status_path.is_file()

    def checkpoint(self, choice: str | os.PathLike[str] = "best") -> Path:
        """``best`` (falls back to ``last`` when no best was written), ``last``, or an explicit path (not checked)."""
        if str(choice) == "best":
            best = self.checkpoints / "best.ckpt"
            return best if best.is_file() else self.checkpoints / "last.ckpt"
        if str(choice) == "last":
            return self.checkpoints / "last.ckpt"
        return Path(choice).expanduser()

    def has_checkpoint(self) -> bool:
        return self.checkpoint("best").is_file()

    def require_checkpoint(self, choice: str | os.PathLike[str] = "best") -> Path:
        """:meth:`checkpoint`, or a ConfigError saying the run never finished an epoch (or the path is missing)."""
        path = self.checkpoint(choice)
        if not path.is_file():
            if str(choice) in ("best", "last"):
                raise ConfigError(f"run folder {self.path} has no checkpoint (checkpoints/best.ckpt or last.ckpt): "
                                  "it never finished an epoch; train it again with `privib run`")
            raise ConfigError(f"checkpoint {path} not found: pass best, last or an existing checkpoint file")
        return path

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> RunFolder:
        """An existing run folder, checked to hold a config."""
        folder = cls(Path(path).expanduser())
        if not folder.config_path.is_file():
            raise ConfigError(f"{folder.path} is not a privib run folder (no config.yaml): pass a folder that `privib run` printed")
        return folder

    def read_config(self) -> dict[str, Any]:
        """The run's resolved config (bounded, safe YAML read); ConfigError naming the file when unusable."""
        import yaml

        from privib.io import YamlLimitError, read_yaml

        try:
            config = read_yaml(self.config_path)
        except FileNotFoundError as exc:
            raise ConfigError(f"{self.path} is not a privib run folder (no config.yaml): pass a folder that `privib run` printed") from exc
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{self.config_path} is not valid YAML: fix or restore it") from exc
        except YamlLimitError as exc:
            raise ConfigError(f"{self.config_path} {exc}: it is not a config privib wrote; restore it") from exc
        except OSError as exc:
            raise ConfigError(f"{self.config_path} cannot be read ({exc.strerror})") from exc
        if not isinstance(config, dict) or not isinstance(config.get("data"), dict) or not isinstance(config.get("model"), dict):
            raise ConfigError(f"{self.config_path} is not a privib run config (no data / model sections)")
        return config

    def write_config(self, config: dict[str, Any]) -> None:
        write_yaml_atomic(self.config_path, config)

    def status(self) -> dict[str, Any]:
        return read_json(self.status_path) if self.status_path.is_file() else {}

    def write_status(self, state: str, **details: Any) -> None:
        """Record ``running`` / ``finished`` / ``failed`` with details, keeping earlier fields."""
        if state not in STATES:
            raise ValueError(f"unknown run state {state}")
        status = {**self.status(), **details, "state": state, "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        if state != "failed":
            for key in FAILURE_FIELDS:
                status.pop(key, None)
        try:
            write_json_atomic(self.status_path, status)
        except OSError:
            if not self.status_path.is_file():
                raise
            _overwrite_in_place(self.status_path, json.dumps(status, indent=2, sort_keys=True, default=str) + "\n")

    def metrics(self) -> dict[str, float]:
        return read_json(self.metrics_path) if self.metrics_path.is_file() else {}

    def update_metrics(self, new: dict[str, Any], drop_prefixes: tuple[str, ...] = ()) -> dict[str, Any]:
        """Merge ``new`` into ``metrics.json`` (flat keys), first dropping old keys under ``drop_prefixes``."""
        old = {k: v for k, v in self.metrics().items() if not k.startswith(drop_prefixes)} if drop_prefixes else self.metrics()
        merged = {**old, **new}
        write_json_atomic(self.metrics_path, merged)
        return merged

    def timings(self) -> dict[str, float]:
        return read_json(self.timings_path) if self.timings_path.is_file() else {}

    def update_timings(self, new: dict[str, float]) -> None:
        write_json_atomic(self.timings_path, {**self.timings(), **new})

    def history(self) -> list[dict[str, Any]]:
        """The per-epoch rows of ``history.json`` (empty when training never logged an epoch)."""
        return read_json(self.history_path) if self.history_path.is_file() else []


def _overwrite_in_place(path: Path, text: str) -> None:
    """Rewrite a small file in its own blocks: the last resort when the disk is full and a temp file cannot be made."""
    with open(path, "r+b") as handle:
        handle.write(text.encode("utf-8"))
        handle.truncate()
        handle.flush()
        os.fsync(handle.fileno())
