"""Weights & Biases options and modes: online only when logged in and the host answers, else offline.

Online W&B is only tried after a bounded HTTP probe of the W&B host got *some* answer: a
host that accepts connections and stays silent would otherwise stall ``wandb`` for minutes.
Every command that talks to W&B goes through :func:`probe_wandb_host` and, to start a run,
:func:`start_wandb_run`, which falls back to offline with one warning. Nothing here imports
Lightning; the Lightning logger is built in :mod:`privib.pipeline.tracking`.
"""
from __future__ import annotations

import http.client
import logging
import netrc
import os
import secrets
import ssl
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar
from collections.abc import Callable
from urllib.parse import urlparse


log = logging.getLogger(__name__)

DEFAULT_WANDB_BASE_URL = "https://api.wandb.ai"
PROBE_TIMEOUT_S = 3.0
INIT_TIMEOUT_S = 20.0
CLEANUP_TIMEOUT_S = 10.0
OFFLINE_HINT = "logging offline instead (upload later with `wandb sync`)"

_Started = TypeVar("_Started")


@dataclass
class WandbOptions:
    """Weights & Biases logging.

    Args:
        enabled: log the run to W&B (offline unless you are logged in).
        project: W&B project name.
        entity: W&B entity (user or team); None uses your default.
        group: run group, e.g. a sweep name, so related runs are compared together.
        tags: tags added to the run.
        mode: auto (online when a W&B API key is configured, else offline), online, offline, disabled.
            The WANDB_MODE environment variable, when set, wins over auto.
    """

    enabled: bool = True
    project: str = "privib"
    entity: str | None = None
    group: str | None = None
    tags: list[str] = field(default_factory=list)
    mode: Literal["auto", "online", "offline", "disabled"] = "auto"


def wandb_options(section: Any) -> WandbOptions:
    """The ``wandb`` section of a config (a run's, or a sweep's first point) as options; unknown keys are ignored."""
    known = {k: v for k, v in dict(section or {}).items() if k in WandbOptions.__dataclass_fields__}
    try:
        return WandbOptions(**known)
    except TypeError:
        return WandbOptions()


def wandb_api_key_configured() -> bool:
    """True when W&B credentials exist: ``WANDB_API_KEY`` or a netrc entry for the W&B host."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", DEFAULT_WANDB_BASE_URL)).hostname or "api.wandb.ai"
    try:
        return netrc.netrc(os.environ.get("NETRC") or None).authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def resolve_wandb_mode(options: WandbOptions) -> str:
    """``disabled``, ``offline`` or ``online``: explicit settings first, then ``WANDB_MODE``, then credentials."""
    if not options.enabled or options.mode == "disabled":
        return "disabled"
    if options.mode != "auto":
        return options.mode
    env_mode = os.environ.get("WANDB_MODE", "").strip().lower()
    if env_mode in ("online", "offline", "disabled"):
        return env_mode
    if env_mode == "dryrun":
        return "offline"
    return "online" if wandb_api_key_configured() else "offline"


def wandb_base_url() -> str:
    """The W&B server wandb will talk to: ``WANDB_BASE_URL``, else wandb's own settings (``wandb login --host``)."""
    url = os.environ.get("WANDB_BASE_URL", "").strip()
    if url:
        return url
    try:
        from wandb.sdk import wandb_setup

        return str(wandb_setup.singleton().settings.base_url or DEFAULT_WANDB_BASE_URL)
    except Exception:  # an unusual wandb install must not stop the probe: use the public host
        return DEFAULT_WANDB_BASE_URL


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is already an answer from the host: report it instead of following it elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        """Never follow; urllib then raises the 3xx as an ``HTTPError``."""
        return None


def _http_answer(url: str, timeout_s: float) -> str | None:
    """None when ``url`` sends back any HTTP response (errors and redirects included), else why not."""
    context = ssl.create_default_context()
    context.check_hostname = False  # only "does it answer" matters here; no credentials are sent
    context.verify_mode = ssl.CERT_NONE
    opener = urllib.request.build_opener(_KeepRedirects(), urllib.request.HTTPSHandler(context=context))
    request = urllib.request.Request(url, headers={"User-Agent": "privib-wandb-probe"})
    try:
        with opener.open(request, timeout=timeout_s):
            return None
    except urllib.error.HTTPError as exc:
        exc.close()
        return None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, TimeoutError):
            return f"W&B host {url} did not answer within {timeout_s:g} s"
        detail = " ".join(str(reason).split()) or type(reason).__name__
        return f"W&B host {url} is unreachable ({type(reason).__name__}: {detail})"


def probe_wandb_host(timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """None when the W&B host answers an HTTP request within ``timeout_s`` in all, else a one-line reason.

    A TCP connect is not enough (a silent host accepts it), so this waits for an HTTP
    response. The request runs in a daemon thread so that name resolution, which no socket
    timeout covers, cannot stretch the wait either.
    """
    url = wandb_base_url()
    outcome: list[str | None] = []
    probe = threading.Thread(target=lambda: outcome.append(_http_answer(url, timeout_s)),
                             name="privib-wandb-probe", daemon=True)
    probe.start()
    probe.join(timeout_s)
    if not outcome:
        return f"W&B host {url} did not answer within {timeout_s:g} s"
    return outcome[0]


def wandb_host_reachable(timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """True when the W&B host answers an HTTP request within ``timeout_s`` (see :func:`probe_wandb_host`)."""
    return probe_wandb_host(timeout_s) is None


def discard_failed_wandb_start(timeout_s: float = CLEANUP_TIMEOUT_S) -> None:
    """Finish a half-started W&B run and shut wandb's service down, so the run id it held is free again.

    Waits at most ``timeout_s``: a service stuck on a stalled host is left to exit with this
    process, and the next ``wandb.init`` starts a fresh one.
    """
    import wandb

    def cleanup() -> None:
        try:
            if wandb.run is not None:
                wandb.run.finish(exit_code=1)
        except Exception as exc:  # the run is being discarded: a failure to finish it changes nothing
            log.debug("finishing the failed W&B run: %s: %s", type(exc).__name__, exc)
        try:
            wandb.teardown()
        except Exception as exc:  # same: the service is being dropped either way
            log.debug("tearing down W&B: %s: %s", type(exc).__name__, exc)

    worker = threading.Thread(target=cleanup, name="privib-wandb-cleanup", daemon=True)
    worker.start()
    worker.join(timeout_s)


def _go_offline_process_wide() -> None:
    """Set ``WANDB_MODE=offline`` for the rest of this process once online W&B has failed.

    An offline run alone is not enough: wandb's process-wide settings stay online, and its
    usage telemetry then posts to the silent host at exit (up to 10 s more). Explicit
    ``wandb.mode`` settings still win over the variable in :func:`resolve_wandb_mode`.
    """
    os.environ["WANDB_MODE"] = "offline"


def _one_line(exc: BaseException, limit: int = 240) -> str:
    """``Type: message`` on one line and bounded, so a W&B error fits the one warning line."""
    text = " ".join(str(exc).split()) or "no details"
    return f"{type(exc).__name__}: {text if len(text) <= limit else text[: limit - 3] + '...'}"


def start_wandb_run(
    start: Callable[[str, str | None, bool], _Started], mode: str, run_id: str | None = None
) -> tuple[_Started, str | None, str | None]:
    """``start(mode, run_id, now)`` with offline fallback; returns what it started, the run id used, a warning.

    Online is tried only when the host answered :func:`probe_wandb_host`. When the online
    start still fails (refused key, stalled API past ``INIT_TIMEOUT_S``), the half-started run
    is discarded and the same id is started offline, ``now`` (so a refusal shows here); if
    wandb still refuses that id, a fresh one is used and returned. ``start`` must raise when
    its run fails to start.
    """
    if mode != "online":
        return start(mode, run_id, False), run_id, None
    problem = probe_wandb_host()
    if problem is not None:
        _go_offline_process_wide()
        return start("offline", run_id, False), run_id, f"{problem}: {OFFLINE_HINT}"
    try:
        return start("online", run_id, True), run_id, None
    except Exception as exc:  # W&B raises several types for refused credentials and timeouts
        warning = f"W&B refused the run ({_one_line(exc)}): {OFFLINE_HINT}"
    discard_failed_wandb_start()
    _go_offline_process_wide()
    try:
        return start("offline", run_id, True), run_id, warning
    except Exception as exc:
        if run_id is None:
            raise
        discard_failed_wandb_start()
        fresh = secrets.token_hex(4)
        log.debug("W&B still refuses run id %s offline (%s); using %s", run_id, _one_line(exc), fresh)
        return start("offline", fresh, True), fresh, f"{warning}; W&B run id {run_id} was still held, using {fresh}"
