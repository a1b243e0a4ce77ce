"""The watcher's figures (issue 30), each printed as it is measured:

- start of watching an indexed --files tree (200 000 files): seconds until up to date, and the
  watcher's peak RSS, on a start and a restart (the tree indexed by a run before, untimed:
  its time, the index published and the copy groups found, is printed too);
- CPU while idle: the watcher's CPU time over --idle seconds, as a share of one core;
- a photo copied in -> found by a running searcher (a Library open in this process, asking
  with the photo itself), in seconds, the settle time (2 s) included: the first while the
  watcher loads its model for it (a watcher with nothing to embed holds none), then another;
- --events new photos (10 000) written in bursts of 1 000: for each, seconds until it is in the
  catalog and the watcher idle again, and the watcher's RSS then (flat, or not);
- a folder moved, 1 000 photos renamed and 1 000 deleted (with --events of 3 000 or more);
- a polling rescan with nothing changed over the tree (the folders' times, scan.changed_folders,
  then the plan of what they name), against a full pass that stats every file.

The tiny model: the model is not the point. The tree's files are 1 KB stand-ins whose rows are
written straight into the catalog (sizes and times as on disk, random unit vectors), so that it
is indexed without decoding 200 000 images; the photos copied in and the bursts are real JPEGs.
Timings mean something only on an otherwise idle machine.

    python bench/watch.py [--files 200000] [--events 10000] [--idle 30] [--work DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from indexer import Indexer  # noqa: E402
from indexer.scan import changed_folders  # noqa: E402
from indexer.watch import read_status  # noqa: E402
from search import Library  # noqa: E402
from search.catalog import Catalog, Record  # noqa: E402
from search.library_folder import PICTURES, picture  # noqa: E402
from tests import checkpoints  # noqa: E402
from tests.test_parity import photo  # noqa: E402

PER_FOLDER = 100  # files per folder of the tree


def stand_ins(tree: Path, files: int, library: Path) -> None:
    """`files` 1 KB files in folders of PER_FOLDER, and their rows, as if indexed."""
    catalog = Catalog.open(library)
    dim, rng, records = catalog.model().dim, np.random.default_rng(0), []
    for i in range(files):
        path = tree / f"f{i // PER_FOLDER:05d}" / f"p{i:06d}.jpg"
        if i % PER_FOLDER == 0:
            path.parent.mkdir(parents=True)
        path.write_bytes(rng.bytes(1024))
        st = path.stat()
        v = rng.standard_normal(dim).astype(np.float32)
        sha = hashlib.sha256(str(i).encode()).hexdigest()
        vector = (v / np.linalg.norm(v)).tobytes()
        for kind in PICTURES:  # stand-in pictures too: a row without its own is made again
            made = picture(library, kind, sha)
            made.parent.mkdir(parents=True, exist_ok=True)
            made.write_bytes(b"x")
        records.append(
            Record(str(path), st.st_size, st.st_mtime_ns, sha, 64, 64, None, None, vector)
        )
        if len(records) == 5000 or i == files - 1:
            catalog.store(records)
            records = []
    catalog.close()


def proc_status(pid: int, key: str) -> float:
    """VmRSS / VmHWM of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def until(condition, timeout: float = 3600, every: float = 0.02) -> float:
    """Seconds until `condition()` holds, asked `every` seconds."""
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > timeout:
            raise SystemExit(f"not within {timeout} s")
        time.sleep(every)
    return time.perf_counter() - start


def current(library: Path) -> bool:
    status = read_status(library)
    return status is not None and status.state == "current"


def count(library: Path) -> int:
    return Catalog.open(library, create=False).counts()["ok"]


def prepare(work: Path, files: int) -> None:
    """The tiny model, a seed photo, the tree of `files` stand-ins, and a first run over them."""
    tiny, photos, library = work / "tiny", work / "photos", work / "lib"
    work.mkdir(parents=True, exist_ok=True)
    checkpoints.build(tiny, checkpoints.train_sentencepiece(work / "spm.model"))
    (photos / "seed").mkdir(parents=True)
    photo(64, 64, 1).save(photos / "seed" / "first.jpg")
    Indexer(library=library, model=str(tiny)).run([photos])
    start = time.perf_counter()
    stand_ins(photos / "tree", files, library)
    print(f"tree: {files} files and rows made in {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    Indexer(library=library, model=str(tiny)).run([photos])
    print(
        f"the indexer's first run over them (the index published, copy groups found, "
        f"names read): {time.perf_counter() - start:.1f} s"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--files", type=int, default=200_000)
    p.add_argument("--events", type=int, default=10_000)
    p.add_argument("--idle", type=float, default=30)
    p.add_argument(
        "--work", type=Path, help="its folder, kept: a run with as many --files reuses its tree"
    )
    args = p.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="altclip-watch-"))
    tiny, photos, library = work / "tiny", work / "photos", work / "lib"
    try:
        stamp = work / "prepared"  # written last: a tree of another size, or half made, is not
        if not stamp.is_file() or stamp.read_text() != str(args.files):
            stamp.unlink(missing_ok=True)
            for part in (tiny, photos, library):
                shutil.rmtree(part, ignore_errors=True)
            prepare(work, args.files)
            stamp.write_text(str(args.files))
        shutil.rmtree(photos / "bursts", ignore_errors=True)  # a run before's, forgotten
        for old in (photos / "seed").glob("copied*.jpg"):  # a run before's
            old.unlink()
        Indexer(library=library, model=str(tiny)).run([photos])
        cmd = [sys.executable, "-m", "indexer", str(photos), "--library", str(library), "--watch"]
        for label in ("start", "restart"):
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=sys.stderr)
            seconds = until(lambda: current(library))
            peak = proc_status(proc.pid, "VmHWM")
            print(
                f"watching {args.files} files, {label}: up to date in {seconds:.1f} s, "
                f"peak RSS {peak:.0f} MB"
            )
            if label == "restart":
                break
            proc.terminate()
            proc.wait()

        before = cpu_seconds(proc.pid)
        time.sleep(args.idle)
        idle = (cpu_seconds(proc.pid) - before) / args.idle
        print(f"idle: {100 * idle:.2f} % of one core over {args.idle:g} s")

        lib = Library.open(library)
        lib.search("a photo")  # the searcher running: its index and tower loaded
        for n, label in ((7, "its model loaded for it"), (8, "the model loaded")):
            source = work / f"copied-{n}.jpg"
            photo(320, 240, n).save(source, quality=90)
            target = photos / "seed" / source.name
            start = time.perf_counter()
            shutil.copy(source, target)
            with Image.open(source) as asked:  # without a path: the photo is not left out
                asked.load()
            found = until(
                lambda a=asked, t=str(target): [h.path for h in lib.search(image=a, k=1)] == [t]
            )
            print(
                f"a photo copied in ({label}): found by a running searcher after {found:.2f} s "
                "(2 s of settle included)"
            )

        held, rss, seconds = count(library), [], []
        for burst in range(args.events // 1000):
            folder = photos / "bursts" / f"b{burst:03d}"
            folder.mkdir(parents=True)
            start = time.perf_counter()
            for i in range(1000):
                photo(64, 48, 1000 * burst + i + 100).save(folder / f"e{i:04d}.jpg", quality=80)
            held += 1000
            until(lambda n=held: count(library) == n, every=0.5)  # a poll of its own costs CPU
            until(lambda: current(library), every=0.5)
            seconds.append(time.perf_counter() - start)
            rss.append(proc_status(proc.pid, "VmRSS"))
        print(
            f"{args.events} new photos in bursts of 1000, each in the catalog and the watcher "
            f"idle again after (s): {' '.join(f'{s:.0f}' for s in seconds)}; its RSS then (MB): "
            f"{' '.join(f'{r:.0f}' for r in rss)}; peak {proc_status(proc.pid, 'VmHWM'):.0f} MB"
        )
        if args.events >= 3000:  # a folder moved, 1000 photos renamed, 1000 deleted
            start = time.perf_counter()
            bursts = photos / "bursts"
            (bursts / "b000").rename(bursts / "moved")
            for path in sorted((bursts / "b001").iterdir()):
                path.rename(path.with_name("renamed-" + path.name))
            for path in sorted((bursts / "b002").iterdir()):
                path.unlink()
            held -= 1000
            until(lambda: count(library) == held, every=0.5)
            until(lambda: current(library), every=0.5)
            catalog = Catalog.open(library, create=False)
            moved = catalog.rows_in(str(bursts / "moved"))
            renamed = catalog.rows_in(str(bursts / "b001"))
            print(
                f"a folder of 1000 moved, 1000 photos renamed, 1000 deleted: in the catalog "
                f"after {time.perf_counter() - start:.1f} s ({len(moved)} rows under the moved "
                f"folder, {sum('renamed-' in p for p in renamed)} renamed); RSS then "
                f"{proc_status(proc.pid, 'VmRSS'):.0f} MB"
            )
        proc.terminate()
        proc.wait()

        with Indexer(library=library, model=str(tiny)).opened([photos]) as job:
            start = time.perf_counter()
            places = list(changed_folders(job.catalog.folder_times(str(photos))))
            summary = job.index(places)
            rescan = time.perf_counter() - start
            start = time.perf_counter()
            full = job.index([("tree", str(photos))])
            print(
                f"a polling rescan, nothing changed ({full.unchanged} files): {rescan:.2f} s "
                f"({len(places)} folders to list, {summary.unchanged} files looked at); a full "
                f"pass that stats every file: {time.perf_counter() - start:.1f} s"
            )
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
