"""A warm parent for ``privib`` command lines: each request runs in a forked child, a fresh process per command.

Importing torch, Lightning and jsonargparse costs a fresh ``python -m privib.cli`` about six CPU seconds,
most of a bad-input case's time. This process imports them once, then, for each request read from stdin
(one JSON line: ``args``, ``cwd``, ``env``, ``stdout``, ``stderr`` paths, or a list of such requests to run
at the same time), forks a child that changes to
``cwd``, takes exactly ``env`` as its environment, writes its stdout and stderr to the given files and runs
``privib.cli.main`` as ``python -m privib.cli`` would (its exit code, atexit handlers run, an uncaught
exception's traceback on stderr and code 1; :func:`privib.cli.warm.become_command`, which ``privib sweep``'s
warm helper uses too); the interpreter's module teardown at exit is skipped.
The parent answers with the children's pids, then their exit codes (``-N``: killed by signal N), one JSON line each.

It imports no module that reads the environment at import time (``datasets``, ``wandb``): the child imports
those after it has taken the request's environment. Nothing here starts a thread of its own (a library's native allocator
thread registers its own fork handlers), so forking is safe.
"""
from __future__ import annotations

import gc
import json
import os
import sys


def _preload() -> None:
    """What every privib command imports first (:func:`privib.cli.warm.preload`), and what the tests' commands add."""
    import pandas  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    import yaml  # noqa: F401

    from privib.cli.warm import preload

    preload()


def _child(request: dict) -> None:
    """In the forked child: become the requested command (:func:`privib.cli.warm.become_command`), never return."""
    from privib.cli.warm import become_command

    stdin = os.open(os.devnull, os.O_RDONLY)
    out = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    err = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    become_command(request["args"], request["cwd"], request["env"], (stdin, out, err))


def serve() -> None:
    """Answer requests until stdin closes; a request that is a list runs its commands at the same time."""
    _preload()
    gc.freeze()  # the imported objects stay out of the children's collections: fewer copied pages
    reply = sys.stdout
    for line in sys.stdin:
        message = json.loads(line)
        requests = message if isinstance(message, list) else [message]
        reply.flush()
        sys.stderr.flush()
        pids = []
        for request in requests:
            pid = os.fork()
            if pid == 0:
                _child(request)
            pids.append(pid)
        reply.write(json.dumps({"pids": pids}) + "\n")
        reply.flush()
        codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
        reply.write(json.dumps({"codes": codes}) + "\n")
        reply.flush()


if __name__ == "__main__":
    serve()
