"""Atomic file writes and bounded YAML reads: a reader never sees a half-written file, a crash never
leaves one, and a hostile YAML file (an alias bomb, a huge file) is refused before it costs memory."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to a temp file beside ``path``, fsync it, then rename over ``path``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Atomically write UTF-8 text."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> Path:
    """Atomically write ``obj`` as indented, key-sorted JSON."""
    return write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def write_yaml_atomic(path: str | os.PathLike[str], obj: Any) -> Path:
    """Atomically write ``obj`` as block-style YAML, keys in insertion order."""
    return write_text_atomic(path, yaml.safe_dump(obj, sort_keys=False, default_flow_style=False))


# A config, pipeline spec or run config is a few KB; these bounds leave room for any real one.
YAML_MAX_BYTES = 1 << 20
YAML_MAX_NODES = 100_000
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlLimitError(ValueError):
    """A YAML document is larger than a config can sensibly be (bytes, or nodes once aliases expand)."""


def parse_yaml(text: str, max_nodes: int = YAML_MAX_NODES) -> Any:
    """Parse one YAML document safely (plain data only), refusing alias bombs.

    The node graph is composed first and its size counted with every alias expanded (each
    node's size is computed once, so a bomb is measured without being built); only a graph of
    at most ``max_nodes`` nodes is turned into Python objects. Uses the C loader when available.
    Raises ``yaml.YAMLError`` for bad syntax and :class:`YamlLimitError` for an oversized document.
    """
    loader = _SAFE_LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded_size(node, max_nodes)
        if size > max_nodes:
            raise YamlLimitError(f"expands to more than {max_nodes:,} values (nested anchors and aliases)")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _expanded_size(root: yaml.Node, cap: int) -> int:
    """Number of nodes in ``root`` with aliases expanded (at most ``cap + 1``); a recursive alias is refused."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        children = _children(node)
        if children_done:
            open_nodes.discard(id(node))
            sizes[id(node)] = min(cap + 1, 1 + sum(sizes[id(child)] for child in children))
            continue
        if id(node) in sizes:
            continue
        if id(node) in open_nodes:
            raise YamlLimitError("holds a recursive alias (a value that contains itself)")
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def read_yaml(path: str | os.PathLike[str], max_bytes: int = YAML_MAX_BYTES) -> Any:
    """Read and :func:`parse_yaml` a UTF-8 YAML file no larger than ``max_bytes`` (size checked before reading)."""
    size = os.stat(path).st_size
    if size > max_bytes:
        raise YamlLimitError(f"is {size:,} bytes, more than a config can be ({max_bytes:,})")
    with open(path, "rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise YamlLimitError(f"is more than {max_bytes:,} bytes")
    return parse_yaml(data.decode("utf-8"))


def read_yaml_mapping(path: str | os.PathLike[str], what: str = "config file",
                      fix: str = "pass --config with an existing YAML file", shown: object = None) -> dict[str, Any]:
    """A YAML file that must hold a mapping (empty: ``{}``); every problem is a ConfigError naming ``what`` and the file.

    The read is bounded (:func:`read_yaml`): an oversized file or an alias bomb is refused before
    it is expanded. ``shown`` is the name to print for the file (default: ``path``).
    """
    from privib.errors import ConfigError

    shown = path if shown is None else shown
    if not os.path.isfile(path):
        raise ConfigError(f"{what} {shown} not found: {fix}")
    try:
        content = read_yaml(path)
    except YamlLimitError as exc:
        raise ConfigError(f"{what} {shown} {exc}: a config is a few KB of plain values, fix the file") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ConfigError(f"{what} {shown} is not valid YAML{where} ({problem}): fix the file") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {shown} is not UTF-8 text: pass a YAML file") from exc
    except OSError as exc:
        raise ConfigError(f"{what} {shown} cannot be read ({exc.strerror}): {fix}") from exc
    if content is not None and not isinstance(content, dict):
        raise ConfigError(f"{what} {shown} must hold a mapping of sections (data:, model:, trainer: ...)")
    return content or {}


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _json_default(value: Any) -> Any:
    """Serialize numpy scalars and paths that ``json`` does not know."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"cannot serialize {type(value).__name__} to JSON")
