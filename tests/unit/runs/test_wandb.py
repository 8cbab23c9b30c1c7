"""A W&B host that accepts connections and never answers (or a closed port) must not fail or hang a command.

Every test points ``WANDB_BASE_URL`` at a local socket (never the internet) with a fake
API key: a silent server that accepts and never writes, a closed port, or an HTTP server
that answers the probe but stalls W&B's API. The commands must go offline with one
warning (``compare --wandb`` must fail with an error naming the host) instead of waiting
for W&B's own minute-long retries. ``pytest-timeout`` catches a hang; nothing asserts speed.
The fixtures (``silent_host``, ``closed_port``, ...) are in tests/conftest.py; the same hosts
against the run logger, the export run, ``compare --wandb`` and the CLI end to end are tested
in tests/unit/pipeline/test_tracking.py, tests/unit/export/test_run.py,
tests/unit/compare/test_wandb_records.py, tests/unit/cli/test_compare.py and
tests/integration/test_run_wandb_silent_host.py.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers.wandb_hosts import http_server
from privib.pipeline import tracking
from privib.runs import wandb as wandb_modes
from privib.runs.wandb import WandbOptions

pytestmark = pytest.mark.usefixtures("no_wandb_left_running")


# ---------------------------------------------------------------------------- (a) the probe
@pytest.mark.timeout(60)
def test_probe_says_a_silent_host_did_not_answer(silent_host: str) -> None:
    problem = wandb_modes.probe_wandb_host(timeout_s=1.0)
    assert problem is not None and silent_host in problem and "did not answer within 1 s" in problem
    assert not wandb_modes.wandb_host_reachable(timeout_s=1.0)


@pytest.mark.timeout(60)
def test_probe_says_a_closed_port_is_unreachable(closed_port: str) -> None:
    problem = wandb_modes.probe_wandb_host(timeout_s=1.0)
    assert problem is not None and closed_port in problem and "unreachable" in problem


@pytest.mark.timeout(60)
@pytest.mark.parametrize("status", [200, 302, 401, 404, 503])
def test_any_http_answer_counts_as_reachable(monkeypatch: pytest.MonkeyPatch, wandb_env: None, status: int) -> None:
    server, url = http_server(status)
    monkeypatch.setenv("WANDB_BASE_URL", url)
    try:
        assert wandb_modes.probe_wandb_host(timeout_s=5.0) is None
    finally:
        server.shutdown()
        server.server_close()


def test_offline_and_disabled_modes_never_probe(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def no_probe(timeout_s: float = 3.0) -> str:
        raise AssertionError("offline W&B must not touch the network")

    monkeypatch.setattr(wandb_modes, "probe_wandb_host", no_probe)
    assert wandb_modes.start_wandb_run(lambda mode, run_id, now: (mode, run_id), "offline", "x") == (("offline", "x"), "x", None)
    assert tracking.make_wandb_logger(WandbOptions(mode="disabled"), tmp_path, {}) == (None, None)
