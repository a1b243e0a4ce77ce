"""`altclip-index --ray` on a local Ray cluster the module starts (2 CPUs, tiny checkpoint): the
catalog equals the local indexer's, a killed driver's rerun finishes the job, the same on
PostgreSQL, and `--ray --export` writes shards that import into the same library."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from indexer import Indexer
from indexer.cli import main as index_main
from search.catalog import Catalog
from tests import test_shards
from tests.conftest import new_database
from tests.photos import BAD, GOOD
from tests.test_indexer import index_ids, kill_at_random
from tests.test_shards import assert_same, state

ray = pytest.importorskip("ray", reason="pip install 'ray[data]' (in the dev extra)")
photos, local = test_shards.photos, test_shards.local  # the same fixtures: folder and reference
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cluster():
    """One local Ray cluster for the module; its address, for drivers in other processes."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # hermetic: no usage report
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning")
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def test_ray_catalog_equals_the_local_indexer(cluster, photos, tiny, local, tmp_path):
    library = tmp_path / "lib"
    # `--ray PHOTOS`: a folder after --ray is the photos (Ray is already up in this process;
    # the kill test below passes the cluster's address)
    args = ["--ray", str(photos), "--library", str(library), "--model", str(tiny)]
    assert index_main([*args, "--max-megapixels", "4", "--batch-size", "4"]) == 0
    assert_same(state(library), state(local))
    ok = {sha for sha, status, _, _ in state(library).values() if status == "ok"}
    assert {p.stem for p in (library / "thumbs").glob("*/*.webp")} == ok  # made by the workers
    assert {p.stem for p in (library / "previews").glob("*/*.jpg")} == ok
    assert index_ids(library) == set(Catalog.open(library).passing())


def test_kill_the_driver_at_random_points_then_rerun(cluster, photos, tiny, local, tmp_path):
    library = tmp_path / "crashy"
    cmd = [sys.executable, "-m", "indexer", str(photos), "--ray", cluster]
    cmd += ["--library", str(library), "--model", str(tiny), "--max-megapixels", "4"]
    cmd += ["--batch-size", "2"]
    # Ray hands the driver its results in blocks, which it may store faster than a kill can be
    # aimed: here a partial library is likely, not sure (tests/test_indexer.py's kills are).
    kill_at_random(cmd, 2, GOOD + BAD, library)
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert_same(state(library), state(local))
    assert index_ids(library) == set(Catalog.open(library).passing())


def test_postgres_catalog(cluster, photos, tiny, local, postgres_url, tmp_path):
    from indexer.distributed import RayIndexer

    url = new_database(postgres_url)
    library = tmp_path / "pg"
    ray_indexer = RayIndexer(
        library=library, model=str(tiny), catalog_url=url, max_megapixels=4, batch_size=4
    )
    summary = ray_indexer.run([photos])
    assert (summary.added, summary.failed) == (GOOD, BAD)
    assert_same(state(library, url), state(local))
    again = Indexer(library=library, model=str(tiny), catalog_url=url, max_megapixels=4)
    summary = again.run([photos])  # the local indexer finds it done (failed files are retried)
    assert (summary.added, summary.updated, summary.unchanged) == (0, 0, GOOD)


def test_ray_export_then_import(cluster, photos, tiny, local, tmp_path, capsys):
    shards = tmp_path / "shards"
    args = [str(photos), "--ray", cluster, "--export", str(shards), "--model", str(tiny)]
    assert index_main([*args, "--max-megapixels", "4"]) == 0
    assert f"{GOOD} added" in capsys.readouterr().out
    assert list(shards.glob("*.parquet")) and list(shards.glob("thumbs/*/*.webp"))
    library = tmp_path / "imported"
    assert index_main(["--import", str(shards), "--library", str(library)]) == 0
    assert_same(state(library), state(local))
    assert list(library.glob("previews/*/*.jpg"))  # copied from beside the shards


def test_moved_and_copied_files_reuse_their_vectors(cluster, photos, tiny, tmp_path):
    """Workers hash, find the bytes known (_Prefixes) and skip decoding; the driver copies."""
    import shutil

    from indexer.distributed import RayIndexer

    folder = shutil.copytree(photos / "2023", tmp_path / "photos")
    library = tmp_path / "lib"
    ray_indexer = RayIndexer(library=library, model=str(tiny), batch_size=4)
    assert ray_indexer.run([folder]).added == 3
    before = state(library)
    (folder / "large.jpeg").rename(folder / "moved.jpeg")
    shutil.copy(folder / "rotated.JPG", folder / "copy.JPG")
    # A worker that decoded either file would refuse it as too large: a copy is only hashed.
    tight = RayIndexer(library=library, model=str(tiny), batch_size=4, max_megapixels=1e-4)
    summary = tight.run([folder])
    assert (summary.moved, summary.added, summary.removed, summary.failed) == (1, 1, 0, 0)
    after = state(library)
    assert after[str(folder / "moved.jpeg")] == before[str(folder / "large.jpeg")]
    assert after[str(folder / "copy.JPG")][3] == before[str(folder / "rotated.JPG")][3]


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
def test_a_stage_that_fails_on_the_cluster_is_one_line(cluster, tiny, tmp_path, capsys):
    """An actor that cannot load the model (here: --device cuda without CUDA, which only the
    actors check: a cluster's nodes may have GPUs the driver lacks) stops the run with its own
    reason, not Ray's traceback; the library keeps what it had."""
    from tests.test_parity import photo

    (tmp_path / "photos").mkdir()
    photo(64, 64, 1).save(tmp_path / "photos" / "one.png")
    library = tmp_path / "lib"
    Indexer(library=library, model=str(tiny)).run([tmp_path / "photos"])
    photo(64, 64, 2).save(tmp_path / "photos" / "two.png")
    args = [str(tmp_path / "photos"), "--ray", cluster, "--library", str(library)]
    assert index_main([*args, "--device", "cuda"]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("altclip-index: the Ray job failed: there is no cuda here")
    assert "Traceback" not in last
    assert len(state(library)) == 1
