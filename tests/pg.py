"""A real PostgreSQL server for the tests, started in a temporary directory and stopped at
the end (unix socket only, trust authentication, nothing outside the directory touched).

`make test` installs Debian's `postgresql` package when `initdb` is missing; the tests fail,
never skip, without it.  As root, the server runs as the `postgres` (or `nobody`) user,
since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _binary(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    assert found, f"PostgreSQL's {name} is needed (apt-get install postgresql; `make test` does it)"
    return found


def _run_as() -> list[str]:
    if os.geteuid() != 0:
        return []
    for user in ("postgres", "nobody"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            continue
        return ["runuser", "-u", user, "--"]
    raise AssertionError("running as root, and neither a postgres nor a nobody user exists")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """``postgresql+psycopg://…`` of a fresh server with an empty database ``ketasim``."""
    with running_postgres() as url:
        yield url


@contextmanager
def running_postgres(port: str = "54329", fsync: bool = False) -> Iterator[str]:
    """A fresh server in a temporary folder for the block (tests and benchmarks); ``fsync``
    off for the tests (a killed process loses nothing either way), on for honest timings."""
    base = Path(tempfile.mkdtemp(prefix="ketasim-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    prefix = _run_as()
    if prefix:
        user = prefix[2]
        pw = pwd.getpwnam(user)
        for p in (base, sock):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    env = {**os.environ, "LC_ALL": "C"}
    subprocess.run(
        [*prefix, _binary("initdb"), "-D", str(data), "-U", "ketasim", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
        env=env,
    )
    options = f"-k {sock} -p {port} -c listen_addresses='' -c fsync={'on' if fsync else 'off'}"
    subprocess.run(
        [*prefix, _binary("pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start"],
        check=True,
        capture_output=True,
        env=env,
    )
    try:
        subprocess.run(
            [_binary("createdb"), "-h", str(sock), "-p", port, "-U", "ketasim", "ketasim"],
            check=True,
            capture_output=True,
            env=env,
        )
        yield f"postgresql+psycopg://ketasim@/ketasim?host={sock}&port={port}"
    finally:
        subprocess.run(
            [*prefix, _binary("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True, env=env
        )
        shutil.rmtree(base, ignore_errors=True)


def registry_url(request: pytest.FixtureRequest, tmp_path: Path, prefix: str) -> str:
    """For a test parametrised by backend: an SQLite file in ``tmp_path``, or a new empty
    database on the session's PostgreSQL server."""
    from sqlalchemy import create_engine, text

    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / f'{prefix}.db'}"
    base = request.getfixturevalue("postgres_url")
    name = f"{prefix}{abs(hash(request.node.nodeid)) % 10**12}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        c.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return base.replace("/ketasim?", f"/{name}?")
