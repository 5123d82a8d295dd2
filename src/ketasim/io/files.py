"""Users' files: reading input documents defensively, writing outputs all or nothing.

Input documents (YAML or JSON) are refused, with a message naming the file and the reason,
when they are missing, a directory, unreadable, larger than :data:`MAX_DOCUMENT_BYTES`, binary,
not valid YAML/JSON (Python-object tags included: only the safe loader is used; a key given
twice in one mapping is refused, as YAML 1.2 and RFC 8259's interoperability advice ask), nested
deeper than :data:`MAX_DEPTH` or larger than :data:`MAX_NODES` values once aliases are
expanded, or when JSON holds NaN or Infinity.

Outputs are written under a temporary name beside the final one and renamed onto it only
when complete; the temporary file is removed on failure, on SIGTERM (see :func:`terminate`,
which also keeps a stopped process from committing) and, after a SIGKILL, by the next write into the same folder.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from ketasim.errors import InputError, OutputError

MAX_DOCUMENT_BYTES = 10 * 2**20
MAX_DEPTH = 32
MAX_NODES = 1_000_000
_PARTIAL = re.compile(r"^\..+\.ketasim-(\d+)-[0-9a-f]{8}\.part$")
_in_progress: set[Path] = set()
_lock = threading.Lock()
_terminated_by: list[int] = []
"""The signal that asked this process to stop, once one has (see :func:`terminate`)."""


def _umask() -> int:
    """The process umask, read without changing it (Linux), else once at import."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


def read_document(path: str | Path, error: type[InputError] = InputError, field: str = "(file)") -> Any:
    """The content of a YAML (.yaml, .yml) or JSON (.json) file, or ``error`` naming ``field``."""
    p = Path(path)

    def refuse(reason: str) -> InputError:
        return error.one(field, f"{str(p)!r} {reason}")

    if p.is_dir():
        raise refuse("is a directory, not a file")
    if not p.exists():
        raise refuse("does not exist")
    if not p.is_file():
        raise refuse("is not a regular file (a device, a pipe or a socket)")
    try:
        size = p.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise refuse(f"is {size:,} bytes; documents are at most {MAX_DOCUMENT_BYTES:,} bytes")
        raw = p.read_bytes()
    except OSError as err:
        raise refuse(f"cannot be read: {err.strerror or err}") from None
    if b"\x00" in raw:
        raise refuse("is not a text file (binary content)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise refuse("is not UTF-8 text") from None
    is_json = p.suffix.lower() == ".json"
    try:
        data = parse_json(text) if is_json else yaml.load(text, Loader=_UniqueKeyLoader)
    except (json.JSONDecodeError, yaml.YAMLError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise refuse(f"is not valid {'JSON' if is_json else 'YAML'}: {first}") from None
    except RecursionError:
        raise refuse(f"is nested too deeply (at most {MAX_DEPTH} levels)") from None
    problem = shape_problem(data)
    if problem:
        raise refuse(problem)
    return data


class RepeatedKeyError(ValueError):
    """A JSON object that gives a key twice (``key``: the first repeated)."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"the key {key!r} appears twice in one object (which one was meant?)")


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads``'s ``object_pairs_hook`` refusing a repeated key (:class:`RepeatedKeyError`)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise RepeatedKeyError(key)
        out[key] = value
    return out


def parse_json(text: str) -> Any:
    """JSON without NaN or Infinity, or a key twice in one object (``ValueError``)."""

    def refuse_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a number JSON allows")

    return json.loads(text, parse_constant=refuse_constant, object_pairs_hook=unique_keys)


class _UniqueKeyLoader(yaml.SafeLoader):
    """The safe loader, refusing a key given twice in one mapping (YAML 1.2 forbids it;
    PyYAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                twice = key in seen
            except TypeError:  # an unhashable key: the base loader refuses it
                continue
            if twice:
                line = key_node.start_mark.line + 1
                raise yaml.constructor.ConstructorError(None, None, f"the key {key!r} appears twice (line {line})")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def shape_problem(data: Any) -> str | None:
    """Why a parsed document is too deep or too large (aliases expanded), or None."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    seen = 0
    while stack:
        node, depth = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            return f"holds more than {MAX_NODES:,} values (aliases expanded)"
        if depth > MAX_DEPTH:
            return f"is nested too deeply (at most {MAX_DEPTH} levels)"
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
            stack.extend((k, depth + 1) for k in node if not isinstance(k, str | int | float | bool))
        elif isinstance(node, list | tuple):
            stack.extend((v, depth + 1) for v in node)
    return None


def read_mapping(path: str | Path, error: type[InputError], what: str, field: str = "(file)") -> dict[str, Any]:
    """A document that must be a mapping (``what``: 'a scenario', 'a trial design', ...)."""
    data = read_document(path, error, field)
    if not isinstance(data, dict):
        raise error.one(field, f"{what} is a mapping of keys to values, not {type(data).__name__}")
    return data


def check_output_path(path: str | Path, suffixes: Sequence[str], field: str) -> Path:
    """``path`` if a file can be written there (right suffix, existing writable folder, not a
    directory); else :class:`InputError` naming ``field`` (a CLI flag, an API field)."""
    p = Path(path)
    if p.suffix.lower() not in suffixes:
        raise InputError.one(field, f"{str(p)!r} must end in {' or '.join(suffixes)}")
    if p.is_dir():
        raise InputError.one(field, f"{str(p)!r} is a directory; give a file name")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise InputError.one(field, f"the folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError.one(field, f"the folder {str(folder)!r} is not writable")
    if p.exists() and not os.access(p, os.W_OK):
        raise InputError.one(field, f"{str(p)!r} exists and is not writable")
    return p


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_partial_files(folder: Path) -> list[Path]:
    """Remove temporary files left in ``folder`` by writers that no longer run (SIGKILL)."""
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        m = _PARTIAL.match(entry.name)
        if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
            try:
                entry.unlink()
                removed.append(entry)
            except OSError:
                pass
    return removed


def remove_partial_files() -> None:
    """Remove this process's unfinished temporary files (called on SIGTERM)."""
    with _lock:
        pending = list(_in_progress)
        _in_progress.clear()
    for path in pending:
        path.unlink(missing_ok=True)


def terminate(signum: int) -> None:
    """Stop on a signal: remember it, remove the unfinished outputs and raise SystemExit.

    Python drops an exception raised by a signal handler that happens to run inside a
    finaliser, so the work may go on; :func:`atomic_path` then refuses to commit and
    :func:`termination_signal` lets the entry point exit with the signal's status anyway."""
    _terminated_by.append(signum)
    remove_partial_files()
    raise SystemExit(128 + signum)


def termination_signal() -> int | None:
    """The signal this process was asked to stop by, or None."""
    return _terminated_by[0] if _terminated_by else None


def stop_if_terminated() -> None:
    """Raise the SystemExit of a stop signal already received (one whose exception a finaliser
    swallowed), so long work ends at its next check instead of running to the end."""
    if _terminated_by:
        raise SystemExit(128 + _terminated_by[0])


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success.

    A failure leaves nothing behind: no half-written file under the final name.  A folder
    that cannot be written, or a final name that cannot be replaced, is an
    :class:`OutputError` naming the path (not a traceback).
    """
    final = Path(path)
    tmp = final.parent / f".{final.name}.ketasim-{os.getpid()}-{secrets.token_hex(4)}.part"
    with _lock:
        _in_progress.add(tmp)
    try:
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            sweep_partial_files(final.parent)
            tmp.open("xb").close()  # can this folder be written? (the writer reopens it)
        except OSError as err:
            raise OutputError.one("(output)", f"{str(final)!r} cannot be written: {err.strerror or err}") from None
        yield tmp
        stop_if_terminated()  # stopped by a signal whose SystemExit was swallowed: never commit
        try:
            os.chmod(tmp, _FILE_MODE)  # as an ordinary new file
            os.replace(tmp, final)
        except OSError as err:
            raise OutputError.one("(output)", f"{str(final)!r} cannot be written: {err.strerror or err}") from None
    finally:
        with _lock:
            _in_progress.discard(tmp)
        tmp.unlink(missing_ok=True)
