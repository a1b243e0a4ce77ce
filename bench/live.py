"""The library stays live at a million photos: how long a full index build takes and how much
memory it needs, how soon a new searcher process sees 100 photos added or removed, query latency
while an indexer writes, and what the searcher holds. Not a test: run it by hand on an idle
machine.

    python bench/live.py [--photos 1000000] [--queries 100] [--model DIR] [--exact]
    python bench/live.py --photos 2000 --queries 10 --model TINY_DIR   # checks the script only

The library holds random unit vectors (bench/search.py's), written through the indexer's store
stage; queries are new texts through the full-size text tower: int8 where it checks itself (the
default on CPU), or the exact one with --exact. The checkpoint and the catalog are made, and the
searcher's first open is run (the int8 check, the tower prepared in the cache folder), each in a
process of its own, so that this process is a searcher alone, opening as a searcher finds the
cache. Ends with one JSON line of every figure: `query_p50_ms` / `query_p95_ms` are one 8-token
query end to end (text -> hits, its text embedded anew each time), against the exact tower's
8 tokens alone in the same run; `search_anon_mb` is this searcher's peak RssAnon (its own
memory, without the file pages it maps, such as a prepared tower's word embeddings), read every
10 ms from before the library opens to the end.
"""

from __future__ import annotations

import argparse
import atexit
import inspect
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.search import queries, records  # noqa: E402
from search import Library  # noqa: E402
from search.catalog import Catalog  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def peak_mb(field: str = "VmHWM") -> int:
    """Peak RSS of this process since it started, MB (VmHWM: ru_maxrss would also count the
    pages a child shared with its parent between fork and exec); or another of its
    /proc/self/status figures in MB, such as RssAnon (now)."""
    with open("/proc/self/status") as f:
        return int(next(line for line in f if line.startswith(field)).split()[1]) // 1024


class AnonPeak(threading.Thread):
    """The highest RssAnon (MB) of this process while it runs, read every 10 ms: Linux keeps
    the peak of the whole RSS (VmHWM), not of the process's own, anonymous, part."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak, self.done = peak_mb("RssAnon"), threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.01):
            self.peak = max(self.peak, peak_mb("RssAnon"))

    def stop(self) -> int:
        self.done.set()
        self.join()
        return max(self.peak, peak_mb("RssAnon"))


BUILD = (
    inspect.getsource(peak_mb)
    + """
import sys, time
from pathlib import Path
from search import publishing
from search.catalog import Catalog
folder = Path(sys.argv[1])
start = time.perf_counter()
publishing.publish(folder / "index", Catalog.open(folder))
print(time.perf_counter() - start, peak_mb())
"""
)
# The checkpoint (unless the folder has one) and a catalog of random vectors, unpublished.
MAKE = """
import json, sys
from pathlib import Path
from bench.model import build
from bench.search import make_library
model, library, photos = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
build("altclip", "full", model)
dim = json.loads((model / "config.json").read_text())["projection_dim"]
make_library(library, model.resolve(), photos, dim, publish=False)
print(dim)
"""
# A searcher's first open: the text tower loaded (int8: checked, and prepared in the cache
# folder). Prints its seconds, the process's peak RSS and the kernel chosen.
FIRST_OPEN = (
    inspect.getsource(peak_mb)
    + """
import sys, time
from search import Library
lib = Library.open(sys.argv[1], int8=sys.argv[2] == "int8")
start = time.perf_counter()
lib.embed_text("warm-up")
print(time.perf_counter() - start, peak_mb(), lib.towers.text.kernels.get("text", "-"))
"""
)
# A new searcher process: opens the library, then looks for each given vector's photo.
FINDS = """
import sys, numpy as np
from search import Library
lib = Library.open(sys.argv[1])
index = lib.refresh()
want = np.load(sys.argv[2])
found = index.search(want["vectors"], 1)[1][:, 0]
print(int((found == want["ids"]).sum()))
"""
# The indexer's store stage at 32 photos/s (faster than any CPU embeds them) until killed.
WRITER = """
import sys, time, numpy as np
from bench.search import records
from search.catalog import Catalog
catalog, rng, first = Catalog.open(sys.argv[1]), np.random.default_rng(7), int(sys.argv[2])
while True:
    catalog.store(records(rng, first, 16, int(sys.argv[3])))
    first += 16
    time.sleep(0.5)
"""


def python(code: str, *args) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def visible(library: Path, ids: np.ndarray, vectors: np.ndarray, committed: float, found: int):
    """`committed` (the seconds the commit took) plus the seconds a new searcher process,
    started now, takes to find `found` of the photos `ids` by their own vectors."""
    wanted = library.parent / "wanted.npz"
    np.savez(wanted, ids=ids, vectors=vectors)
    start = time.perf_counter()
    got = int(python(FINDS, library, wanted))
    if got != found:
        raise SystemExit(f"a new searcher found {got} of the {len(ids)} photos, not {found}")
    return committed + time.perf_counter() - start


def latencies(lib: Library, texts: list[str]) -> list[float]:
    seconds = []
    for text in texts:
        lib.towers.forget_texts()  # every query pays for its text embedding
        start = time.perf_counter()
        lib.search(text, k=10)
        seconds.append(time.perf_counter() - start)
    return seconds


def eight_tokens(lib: Library, rounds: int) -> list[float]:
    """Seconds of the text tower alone on one query of 8 tokens (<s> and </s> included), cut
    from a longer one: the tower's own latency, whatever the tokenizer makes of the words."""
    tower = lib.towers.text
    ids, mask = tower.tokenizer.encode(["a photo of my grandmother at the beach in Paris at night"])
    ids, mask = np.concatenate([ids[:, :7], ids[:, -1:]], axis=1), mask[:, :8]  # [1, 8]
    seconds = []
    for _ in range(rounds):
        start = time.perf_counter()
        tower.encode_text(ids, mask)
        seconds.append(time.perf_counter() - start)
    return seconds


def ms(seconds: list[float], q: float) -> float:
    return round(float(np.percentile(seconds, q)) * 1e3, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--model", type=Path, default=Path(tempfile.gettempdir()) / "altclip-full")
    parser.add_argument("--exact", action="store_true", help="the exact text tower, not int8")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-live-"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)  # 7 GB at a million photos
    library = work / "library"
    library.mkdir()
    start = time.perf_counter()
    dim = int(python(MAKE, args.model, library, args.photos))
    print(f"catalog of {args.photos:,} photos written in {time.perf_counter() - start:.0f} s")
    build_s, build_mb = map(float, python(BUILD, library).split())
    print(f"full build of the index: {build_s:.1f} s, peak RSS {build_mb:.0f} MB")
    tower = "exact" if args.exact else "int8"
    first_s, first_mb, kernel = python(FIRST_OPEN, library, tower).split()
    first_s, first_mb = float(first_s), float(first_mb)
    print(
        f"a searcher's first open ({tower}, its check and the prepared tower made if not kept "
        f"yet): the text tower in {first_s:.1f} s, peak RSS {first_mb:.0f} MB, kernel {kernel}"
    )
    catalog = Catalog.open(library)

    anon = AnonPeak()
    anon.start()
    lib = Library.open(library, int8=not args.exact)
    lib.refresh()
    start = time.perf_counter()
    lib.search("warm-up", k=10)  # loads the text tower
    load_s = time.perf_counter() - start
    texts = queries(2 * args.queries)
    eights = [t for t in queries(10_000) if lib.towers.text.tokenizer.encode([t])[0].shape[1] == 8]
    idle = latencies(lib, [eights[i % len(eights)] for i in range(args.queries)])
    text_8 = eight_tokens(lib, max(args.queries, 20))
    kernel = lib.towers.text.kernels.get("text", "-")
    print(
        f"a later open: the text tower ({kernel}) in {load_s:.2f} s; one 8-token query through "
        f"it alone: p50 {ms(text_8, 50)} ms"
    )
    hits = [
        len({h.id for h in lib.search(t, k=10)} & {h.id for h in lib.search(t, k=10, exact=True)})
        for t in texts[:20]
    ]
    recall = sum(hits) / (10 * len(hits))
    print(
        f"an 8-token query end to end, idle ({len(set(eights))} texts, each embedded anew): "
        f"p50 {ms(idle, 50)} ms, p95 {ms(idle, 95)} ms; recall@10 {recall:.3f} (20 queries)"
    )

    rng = np.random.default_rng(3)
    added = records(rng, args.photos, 100, dim)
    start = time.perf_counter()
    catalog.store(added)
    committed = time.perf_counter() - start
    ids = np.sort(catalog.passing(folder=str(Path(added[0].path).parent)))  # only they are there
    vectors = np.stack([np.frombuffer(r.embedding, np.float32) for r in added])
    add_s = visible(library, ids, vectors, committed, found=100)
    start = time.perf_counter()
    catalog.finish_run(gone=[r.path for r in added], offline={})
    remove_s = visible(library, ids, vectors, time.perf_counter() - start, found=0)
    print(
        f"100 photos added: found by a new searcher process {add_s:.2f} s after the commit; "
        f"removed: gone {remove_s:.2f} s after"
    )

    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, library, str(args.photos + 1000), str(dim)], cwd=ROOT
    )
    try:
        time.sleep(2)
        busy = latencies(lib, texts[args.queries :])
    finally:
        writer.kill()
    print(f"query while an indexer writes: p50 {ms(busy, 50)} ms, p95 {ms(busy, 95)} ms")
    search_mb, anon_mb = peak_mb(), anon.stop()
    print(
        f"this searcher's peak RSS: {search_mb} MB (the text tower included), of which its own "
        f"memory (RssAnon, sampled): {anon_mb} MB"
    )
    exact_8 = eight_tokens(Library.open(library, int8=False), max(args.queries, 20))
    print(
        f"the exact text tower on the same 8 tokens: p50 {ms(exact_8, 50)} ms "
        f"({ms(exact_8, 50) / ms(text_8, 50):.1f}x the {tower} one's time)"
    )
    print(
        json.dumps(
            dict(
                photos=args.photos,
                full_build_s=round(build_s, 1),
                add_100_visible_s=round(add_s, 2),
                remove_100_visible_s=round(remove_s, 2),
                text_tower=tower,
                text_kernel=kernel,
                int8_cosine=lib.int8_cosine,
                first_open_text_s=round(first_s, 1),
                first_open_peak_rss_mb=int(first_mb),
                text_load_s=round(load_s, 2),
                text_tower_8_tokens_p50_ms=ms(text_8, 50),
                exact_text_tower_8_tokens_p50_ms=ms(exact_8, 50),
                query_p50_ms=ms(idle, 50),
                query_p95_ms=ms(idle, 95),
                query_p95_during_indexing_ms=ms(busy, 95),
                build_peak_rss_mb=int(build_mb),
                search_peak_rss_mb=int(search_mb),
                search_anon_mb=int(anon_mb),
                recall_at_10=round(recall, 3),
            )
        )
    )


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
