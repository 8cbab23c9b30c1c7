"""A W&B host that accepts connections and never answers (or a closed port) must not fail or hang a command.

Every test points ``WANDB_BASE_URL`` at a local socket (never the internet) with a fake
API key: a silent server that accepts and never writes, a closed port, or an HTTP server
that answers the probe but stalls W&B's API. The commands must go offline with one
warning (``compare --wandb`` must fail with an error naming the host) instead of waiting
for W&B's own minute-long retries. ``pytest-timeout`` catches a hang; nothing asserts speed.
"""
from __future__ import annotations

import json
import logging
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import REPO, run_privib
from privib.errors import PrivibError
from privib.pipeline import tracking
from privib.pipeline.options import WandbOptions
from privib.pipeline.runs import RunFolder

FAKE_KEY = "f" * 40


class _SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never sends a byte."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)  # lets the accept loop notice close() promptly
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(connection)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()
        for connection in self.connections:
            connection.close()


class _ProbeOnlyHandler(BaseHTTPRequestHandler):
    """Answers GET (what the probe sends) and stalls every POST (W&B's GraphQL API) until shutdown."""

    stop = threading.Event()
    status = 200

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        """Any quick answer: the status is set per server."""
        self.send_response(self.status)
        self.send_header("Location", "http://127.0.0.1:1/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        """Never answers within any test's patience."""
        self.stop.wait(120)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        """Quiet."""


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
    server = _SilentServer()
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


def _http_server(status: int) -> tuple[ThreadingHTTPServer, str]:
    handler = type("Handler", (_ProbeOnlyHandler,), {"status": status, "stop": threading.Event()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def probe_only_host(monkeypatch: pytest.MonkeyPatch, wandb_env: None) -> Iterator[str]:
    """An HTTP host that passes the probe, then stalls ``wandb.init``."""
    server, url = _http_server(200)
    monkeypatch.setenv("WANDB_BASE_URL", url)
    yield url
    server.RequestHandlerClass.stop.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _no_wandb_left_running() -> Iterator[None]:
    yield
    if "wandb" in sys.modules:
        import wandb

        if wandb.run is not None:
            wandb.finish()
        wandb.teardown()


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("privib")]


# ---------------------------------------------------------------------------- (a) the probe
@pytest.mark.timeout(60)
def test_probe_says_a_silent_host_did_not_answer(silent_host: str) -> None:
    problem = tracking.probe_wandb_host(timeout_s=1.0)
    assert problem is not None and silent_host in problem and "did not answer within 1 s" in problem
    assert not tracking.wandb_host_reachable(timeout_s=1.0)


@pytest.mark.timeout(60)
def test_probe_says_a_closed_port_is_unreachable(closed_port: str) -> None:
    problem = tracking.probe_wandb_host(timeout_s=1.0)
    assert problem is not None and closed_port in problem and "unreachable" in problem


@pytest.mark.timeout(60)
@pytest.mark.parametrize("status", [200, 302, 401, 404, 503])
def test_any_http_answer_counts_as_reachable(monkeypatch: pytest.MonkeyPatch, wandb_env: None, status: int) -> None:
    server, url = _http_server(status)
    monkeypatch.setenv("WANDB_BASE_URL", url)
    try:
        assert tracking.probe_wandb_host(timeout_s=5.0) is None
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------------------- (b) run / evaluate logger
@pytest.mark.timeout(60)
def test_logger_goes_offline_with_one_warning_when_the_host_is_dead(
    dead_host: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="privib")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    logger, warning = tracking.make_wandb_logger(WandbOptions(mode="online"), run_dir, {"seed": 1}, "abcd1234")
    assert warning is not None and dead_host in warning and "offline" in warning
    assert _warnings(caplog) == [warning]
    assert logger.experiment.settings.mode == "offline" and logger.experiment.id == "abcd1234"
    logger.experiment.finish()
    assert list((run_dir / "wandb").glob("offline-run-*-abcd1234"))


@pytest.mark.timeout(90)
def test_failed_online_start_frees_the_run_id_for_the_offline_retry(
    probe_only_host: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The host answers the probe but stalls W&B's API: the retry must not hit "run ID ... is in use"."""
    monkeypatch.setattr(tracking, "INIT_TIMEOUT_S", 2.0)
    caplog.set_level(logging.WARNING, logger="privib")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    logger, warning = tracking.make_wandb_logger(WandbOptions(mode="online"), run_dir, {"seed": 1}, "abcd1234")
    assert warning is not None and "W&B refused the run" in warning and "offline" in warning
    assert _warnings(caplog) == [warning]
    assert logger.experiment.settings.mode == "offline" and logger.experiment.id == "abcd1234"


class _FakeLogger:
    """Stands in for WandbLogger: starting it fails online, and offline for the id W&B still holds."""

    def __init__(self, mode: str, run_id: str | None, held: str) -> None:
        self.mode, self.run_id, self.held = mode, run_id, held

    @property
    def experiment(self) -> "_FakeLogger":
        if self.mode == "online" or self.run_id == self.held:
            raise RuntimeError(f"run ID {self.run_id} is in use")
        return self


def test_an_id_still_held_is_replaced_and_recorded_in_the_status(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, wandb_env: None
) -> None:
    monkeypatch.setattr(tracking, "probe_wandb_host", lambda timeout_s=3.0: None)
    monkeypatch.setattr(tracking, "discard_failed_wandb_start", lambda timeout_s=10.0: None)
    monkeypatch.setattr(tracking, "_build_logger",
                        lambda options, run_dir, config, run_id, mode: _FakeLogger(mode, run_id, held="abcd1234"))
    folder = RunFolder(tmp_path / "run")
    folder.path.mkdir()
    folder.write_status("running", wandb_id="abcd1234")
    logger, warning = tracking.make_wandb_logger(WandbOptions(mode="online"), folder.path, {}, "abcd1234")
    assert logger.mode == "offline" and logger.run_id not in (None, "abcd1234")
    assert warning is not None and "abcd1234" in warning and logger.run_id in warning
    status = json.loads(folder.status_path.read_text())
    assert status["wandb_id"] == logger.run_id and status["state"] == "running"


def test_offline_and_disabled_modes_never_probe(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def no_probe(timeout_s: float = 3.0) -> str:
        raise AssertionError("offline W&B must not touch the network")

    monkeypatch.setattr(tracking, "probe_wandb_host", no_probe)
    assert tracking.start_wandb_run(lambda mode, run_id, now: (mode, run_id), "offline", "x") == (("offline", "x"), "x", None)
    assert tracking.make_wandb_logger(WandbOptions(mode="disabled"), tmp_path, {}) == (None, None)


# ---------------------------------------------------------------------------- (c) export
@pytest.mark.timeout(60)
def test_export_run_goes_offline_with_a_warning_when_the_host_is_dead(
    dead_host: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from privib.export.run import start_export_wandb_run

    caplog.set_level(logging.WARNING, logger="privib")
    folder = RunFolder(tmp_path / "run")
    folder.path.mkdir()
    run = start_export_wandb_run(folder, {"wandb": {"mode": "online"}})
    warnings = _warnings(caplog)
    assert len(warnings) == 1 and dead_host in warnings[0] and "offline" in warnings[0]
    assert run is not None and run.settings.mode == "offline"
    run.finish()
    assert list((folder.path / "wandb").glob("offline-run-*"))


# ---------------------------------------------------------------------------- (d) compare --wandb
@pytest.mark.timeout(60)
def test_fetching_wandb_runs_fails_naming_the_host_before_calling_wandb(
    dead_host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import wandb

    from privib.pipeline.wandb_compare import fetch_wandb_records

    def no_api(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("wandb.Api must not be called when the host does not answer")

    monkeypatch.setattr(wandb, "Api", no_api)
    with pytest.raises(PrivibError, match="W&B host") as raised:
        fetch_wandb_records("me/privib")
    assert dead_host in str(raised.value)


@pytest.mark.timeout(60)
def test_compare_wandb_ends_with_one_error_line(
    silent_host: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from privib.cli import main

    assert main(["compare", "--wandb", "me/privib", "--out", str(tmp_path / "cmp")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("privib: error: ") and silent_host in lines[0]
    assert "did not answer" in lines[0]


# ---------------------------------------------------------------------------- end to end
@pytest.mark.slow
@pytest.mark.timeout(400)
def test_run_and_export_cli_against_a_silent_host_finish_with_one_warning_each(
    silent_host: str, tmp_path: Path, adult_root: Path
) -> None:
    env = {"PRIVIB_DATA_DIR": str(adult_root)}
    trained = run_privib("run", "--config", str(REPO / "configs" / "adult.yaml"), "--trainer.max_epochs", "1",
                         "--wandb.mode", "online", "--evaluation.robustness", "{}", "--evaluation.raw_reference", "false",
                         "--evaluation.attack_both", "false", "--trainer.enable_progress_bar", "false",
                         "--runs_dir", str(tmp_path / "runs"), cwd=tmp_path, env=env, timeout=300)
    assert trained.returncode == 0, trained.stderr[-3000:]
    run = Path(trained.stdout.strip().splitlines()[-1])
    exported = run_privib("export", str(run), "--format", "safetensors", cwd=tmp_path, env=env, timeout=120)
    assert exported.returncode == 0, exported.stderr[-3000:]
    for result in (trained, exported):
        warnings = [line for line in result.stderr.splitlines() if line.startswith("privib: WARNING:")]
        assert len(warnings) == 1 and silent_host in warnings[0] and "offline" in warnings[0], result.stderr[-3000:]
    assert len(list((run / "wandb").glob("offline-run-*"))) == 2
