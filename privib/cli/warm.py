"""The warm helper of ``privib sweep`` and of the tests (:class:`privib.sweep.warm.WarmLauncher`): not a command.

Run as ``python -m privib.cli.warm`` with the points' environment, it imports torch, Lightning and the
``run`` command once, then forks one child per request line on stdin (``id``, ``args``, ``stdout``, ``stderr``,
``env``, ``cwd``): the child becomes ``privib <args>`` in a new session, its output appended to those files.
It answers ``{"id", "pid"}`` per start and ``{"exit", "code"}`` per child that ends (``-N``: signal N),
ignores SIGINT and SIGTERM (the sweep stops points through their process groups) and exits once stdin is
closed and every child is reaped. It starts no thread of its own (a native allocator thread of a library,
jemalloc's, registers its own fork handlers), so forking is safe, as for a DataLoader's forked workers.
"""
from __future__ import annotations

import json
import os
import select
import signal
import sys
from typing import Any, NoReturn


def preload() -> None:
    """Import what a ``privib`` command runs: torch, Lightning, jsonargparse and every privib module.

    Every module, not only the command's: a point's stages import theirs lazily, so a sweep's points would
    otherwise run whatever privib's files hold when each point reaches them, edits made during the sweep
    included. Preloaded, every point runs the code as it was when the sweep started. No privib module
    imports ``wandb`` or ``datasets`` at import time (each child imports those after it took its environment).
    """
    import importlib
    import pkgutil

    import jsonargparse  # noqa: F401
    import pytorch_lightning  # noqa: F401
    import torch  # noqa: F401

    import privib

    for module in pkgutil.walk_packages(privib.__path__, "privib."):
        if module.name.rsplit(".", 1)[-1] != "__main__":  # running a __main__ would run its command
            importlib.import_module(module.name)


def become_command(args: list[str], cwd: str, env: dict[str, str], stdio: tuple[int, int, int]) -> NoReturn:
    """In a forked child: take ``cwd``, exactly ``env`` and the descriptors ``stdio`` as 0, 1 and 2 (closed
    afterwards), then run ``privib <args>`` as ``python -m privib.cli`` would: its exit code, atexit handlers
    run, an uncaught exception's traceback and code 1. The interpreter's module teardown (seconds) is skipped."""
    import atexit
    import importlib.util
    import traceback

    code: object = 1
    try:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        for target, source in enumerate(stdio):
            os.dup2(source, target)
        for source in set(stdio) - {0, 1, 2}:
            os.close(source)
        main_module = importlib.util.find_spec("privib.cli.__main__")
        sys.modules["__main__"].__spec__ = main_module  # a DDP launch re-executes `python -m privib.cli.__main__`
        sys.argv = [str(main_module.origin), *args]
        from privib.cli import main

        code = main(list(args))
    except SystemExit as exc:
        code = exc.code
    except BaseException:
        traceback.print_exc()
    finally:
        atexit._run_exitfuncs()
        if not isinstance(code, int | None):
            print(code, file=sys.stderr)
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code or 0)


def _become_point(request: dict[str, Any], ready: int) -> NoReturn:
    """In the forked child: become the requested ``privib`` command in a session of its own. Writes to ``ready``
    once it leads that session, so the sweep never signals a process group that does not exist yet."""
    os.setsid()
    os.write(ready, b"1")
    os.close(ready)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    stdin = os.open(os.devnull, os.O_RDONLY)
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    out = os.open(request["stdout"], flags, 0o644)
    err = out if request["stderr"] == request["stdout"] else os.open(request["stderr"], flags, 0o644)
    become_command(request["args"], request["cwd"], request["env"], (stdin, out, err))


def serve() -> None:
    """The helper: fork a point per request line on stdin, report pids and exit codes on stdout."""
    import gc

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    preload()
    gc.freeze()  # the imported objects stay out of the children's collections: fewer copied pages
    reply, pending, children, open_input = sys.stdout, b"", set(), True

    def say(message: dict[str, Any]) -> None:
        reply.write(json.dumps(message) + "\n")
        reply.flush()

    while open_input or children:
        if open_input and select.select([0], [], [], 0.1)[0]:
            chunk = os.read(0, 65536)
            open_input = bool(chunk)
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                request = json.loads(line)
                sys.stderr.flush()
                ready, ready_w = os.pipe()
                pid = os.fork()
                if pid == 0:
                    os.close(ready)
                    _become_point(request, ready_w)
                os.close(ready_w)
                os.read(ready, 1)  # the child leads its session (or has died: end of file)
                os.close(ready)
                children.add(pid)
                say({"id": request["id"], "pid": pid})
        elif not open_input:
            pid, status = os.waitpid(-1, 0)
            children.discard(pid)
            say({"exit": pid, "code": os.waitstatus_to_exitcode(status)})
            continue
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            children.discard(pid)
            say({"exit": pid, "code": os.waitstatus_to_exitcode(status)})


if __name__ == "__main__":
    serve()
