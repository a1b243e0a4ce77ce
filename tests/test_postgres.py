"""The catalog in a real PostgreSQL server on loopback (Debian's postgresql, from .ci/run)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile

import pytest

from indexer import Indexer
from search import Library
from tests.photos import GOOD, make_photos


@pytest.fixture(scope="module")
def postgres_url():
    initdb = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not initdb:
        pytest.skip("no PostgreSQL server here: apt-get install postgresql (as .ci/run does)")
    pytest.importorskip("psycopg", reason="pip install psycopg[binary] (in the dev extra)")
    bindir = os.path.dirname(initdb[-1])
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    home = tempfile.mkdtemp(prefix="altclip-pg-")
    if os.geteuid() == 0:
        shutil.chown(home, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = os.path.join(home, "db")
    subprocess.run(
        [*as_postgres, f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1"
    log = os.path.join(home, "server.log")  # the server must not hold our pipes open
    subprocess.run(
        [*as_postgres, f"{bindir}/pg_ctl", "-D", data, "-o", options, "-l", log, "-w", "start"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    subprocess.run(
        [*as_postgres, f"{bindir}/pg_ctl", "-D", data, "-m", "fast", "stop"], capture_output=True
    )
    shutil.rmtree(home, ignore_errors=True)


def test_postgres_catalog_matches_sqlite(postgres_url, tiny, tmp_path):
    root = make_photos(tmp_path / "photos")
    Indexer(library=tmp_path / "pg", model=str(tiny), catalog_url=postgres_url).run([root])
    Indexer(library=tmp_path / "sqlite", model=str(tiny)).run([root])
    again = Indexer(library=tmp_path / "pg", model=str(tiny), catalog_url=postgres_url).run([root])
    assert again.unchanged == GOOD  # every path, the non-UTF-8 one too, round-trips
    pg = Library.open(tmp_path / "pg", postgres_url).search("海边的日落", k=GOOD)
    lite = Library.open(tmp_path / "sqlite").search("海边的日落", k=GOOD)
    assert [(h.path, round(h.score, 5)) for h in pg] == [(h.path, round(h.score, 5)) for h in lite]
