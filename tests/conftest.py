from __future__ import annotations

import atexit
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests import checkpoints

# Hermetic: never touch the network or the user's Hugging Face cache.
os.environ["HF_HUB_OFFLINE"] = "1"
# The kernels timed at first load on this machine, and the captions embedded, are cached here
# for this run, not in the user's ~/.cache.
os.environ["ALTCLIP_CACHE"] = tempfile.mkdtemp(prefix="altclip-cache-")
atexit.register(shutil.rmtree, os.environ["ALTCLIP_CACHE"], ignore_errors=True)
# Root reads every folder whatever its mode: commands run without that capability when the
# tests run as root, so that an unreadable folder is unreadable.
AS_USER = (
    ["setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search"]
    if os.geteuid() == 0
    else []
)


@pytest.fixture(scope="session")
def spm_path(tmp_path_factory):
    return checkpoints.train_sentencepiece(
        tmp_path_factory.mktemp("spm") / "sentencepiece.bpe.model"
    )


@pytest.fixture(scope="session")
def ref_tokenizer(spm_path):
    return checkpoints.reference_tokenizer(spm_path)


@pytest.fixture(scope="session", params=["altclip", "m18"])
def checkpoint(request, tmp_path_factory, spm_path):
    """(folder, transformers model) for each tiny checkpoint shape."""
    folder = tmp_path_factory.mktemp(request.param)
    return folder, checkpoints.build(folder, spm_path, request.param)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory, spm_path):
    """The AltCLIP-shaped tiny checkpoint folder, for tests that need one model only."""
    folder = tmp_path_factory.mktemp("tiny")
    checkpoints.build(folder, spm_path, "altclip")
    return folder


@pytest.fixture(scope="session")
def photo_library(tmp_path_factory, tiny):
    """A library indexed from tests.photos.make_photos with the tiny checkpoint."""
    from indexer import Indexer
    from tests.photos import make_photos

    root = make_photos(tmp_path_factory.mktemp("photos"))
    folder = tmp_path_factory.mktemp("lib")
    Indexer(library=folder, model=str(tiny)).run([root])
    return folder


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL server started on loopback for the session (Debian's, from .ci/run)."""
    server = PostgresServer()
    yield server.url
    server.stop()
    server.remove()


class PostgresServer:
    """A PostgreSQL server of its own on loopback; `stop()` it (tests may stop it midway)."""

    def __init__(self):
        initdb = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not initdb:
            pytest.skip("no PostgreSQL server here: apt-get install postgresql (as .ci/run does)")
        pytest.importorskip("psycopg", reason="pip install psycopg[binary] (in the dev extra)")
        bindir = os.path.dirname(initdb[-1])
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.home = tempfile.mkdtemp(prefix="altclip-pg-")
        if os.geteuid() == 0:
            shutil.chown(self.home, "postgres")
        port = free_port()
        data = os.path.join(self.home, "db")
        subprocess.run(
            [*as_postgres, f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "postgres"],
            check=True,
            capture_output=True,
        )
        self.options = f"-p {port} -k {self.home} -c listen_addresses=127.0.0.1"
        self.ctl = [*as_postgres, f"{bindir}/pg_ctl", "-D", data]
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        self.start()

    def start(self) -> None:
        log = os.path.join(self.home, "server.log")  # the server must not hold our pipes open
        subprocess.run(
            [*self.ctl, "-o", self.options, "-l", log, "-w", "start"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self, mode: str = "fast") -> None:
        subprocess.run([*self.ctl, "-m", mode, "stop"], capture_output=True)

    def remove(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)


def new_database(server_url: str) -> str:
    """The URL of a new, empty database on the test server."""
    from sqlalchemy import create_engine, text

    name = f"t{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return server_url.rsplit("/", 1)[0] + "/" + name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(library: Path, log: Path, password: str | None = None):
    """`altclip-ui` as a person starts it (`--password` where one is given), on a free loopback
    port; its URL once healthy."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "ALTCLIP_PASSWORD"}
    command = [sys.executable, "-m", "ui.launch", "--library", str(library), "--port", str(port)]
    ui = subprocess.Popen(
        command + (["--password", password] if password else []),
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                pass
            if ui.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"altclip-ui did not come up: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(ui.pid, signal.SIGTERM)
        ui.wait(timeout=30)
