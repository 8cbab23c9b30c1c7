"""Shared fixtures: W&B forced offline/disabled, Adult located, privib's logger restored, fake W&B hosts."""
from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.data import adult_dir
from helpers.wandb_hosts import FAKE_KEY, SilentServer, http_server

os.environ["WANDB_MODE"] = os.environ.get("PRIVIB_TEST_WANDB_MODE", "disabled")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def private_privib_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """privib's cache (raw references, help texts) under this test process's temporary folder: a test never
    reads figures that an earlier run left in the user's cache, and never writes there (tests that study the
    cache point it elsewhere with monkeypatch)."""
    folder = tmp_path_factory.mktemp("privib-cache")
    previous = os.environ.get("PRIVIB_CACHE_DIR")
    os.environ["PRIVIB_CACHE_DIR"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("PRIVIB_CACHE_DIR", None)
    else:
        os.environ["PRIVIB_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def adult_root() -> Path:
    root = adult_dir()
    if root is None:
        pytest.skip("UCI Adult not available: set PRIVIB_DATA_DIR to a folder holding adult/adult.data")
    return root


@pytest.fixture(scope="session")
def adult_datamodule(adult_root: Path):
    from privib.data.datamodule import PrivibDataModule

    datamodule = PrivibDataModule(name="adult", root=str(adult_root), sensitive=["sex", "race"])
    datamodule.setup()
    return datamodule


@pytest.fixture(autouse=True)
def restore_privib_logging() -> Iterator[None]:
    """privib.cli.main configures the ``privib`` logger with a handler bound to the current stderr
    (a capsys buffer in tests); undo that after each test so later tests do not log to a closed stream."""
    logger = logging.getLogger("privib")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


# ---------------------------------------------------------------------------- W&B hosts that never answer
# Every one points ``WANDB_BASE_URL`` at a local socket (never the internet) with a fake API key.
@pytest.fixture
def wandb_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Credentials that look real, ``WANDB_MODE`` unset, W&B files kept under ``tmp_path``."""
    monkeypatch.setenv("WANDB_API_KEY", FAKE_KEY)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "wandb-cache"))
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb-data"))


@pytest.fixture
def silent_host(monkeypatch: pytest.MonkeyPatch, wandb_env: None) -> Iterator[str]:
    server = SilentServer()
    monkeypatch.setenv("WANDB_BASE_URL", server.url)
    yield server.url
    server.close()


@pytest.fixture
def closed_port(monkeypatch: pytest.MonkeyPatch, wandb_env: None) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    monkeypatch.setenv("WANDB_BASE_URL", url)
    return url


@pytest.fixture(params=["silent", "closed"])
def dead_host(request: pytest.FixtureRequest) -> str:
    """Either kind of host W&B cannot use."""
    return request.getfixturevalue("silent_host" if request.param == "silent" else "closed_port")


@pytest.fixture
def probe_only_host(monkeypatch: pytest.MonkeyPatch, wandb_env: None) -> Iterator[str]:
    """An HTTP host that passes the probe, then stalls ``wandb.init``."""
    server, url = http_server(200)
    monkeypatch.setenv("WANDB_BASE_URL", url)
    yield url
    server.RequestHandlerClass.stop.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def no_wandb_left_running() -> Iterator[None]:
    """Finish any W&B run a test left behind and shut wandb's service down (use with ``usefixtures``)."""
    yield
    if "wandb" in sys.modules:
        import wandb

        if wandb.run is not None:
            wandb.finish()
        wandb.teardown()
