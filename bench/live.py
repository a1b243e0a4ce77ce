"""The library stays live at a million photos: how long a full index build takes and how much
memory it needs, how soon a new searcher process sees 100 photos added or removed, and query
latency while an indexer writes. Not a test: run it by hand on an idle machine.

    python bench/live.py [--photos 1000000] [--queries 100] [--model DIR]

The library holds random unit vectors (bench/search.py's), written through the indexer's store
stage; queries are new texts through the full-size text tower in its default dtype (text ->
hits, the ANN path). Ends with one JSON line of every figure.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import altclip_core  # noqa: E402
from bench.model import build  # noqa: E402
from bench.search import make_library, queries, records  # noqa: E402
from search import Library  # noqa: E402
from search.catalog import Catalog  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def peak_mb() -> int:
    """Peak RSS of this process since it started, MB (VmHWM: ru_maxrss would also count the
    pages a child shared with its parent between fork and exec)."""
    with open("/proc/self/status") as f:
        return int(next(line for line in f if line.startswith("VmHWM")).split()[1]) // 1024


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--model", type=Path, default=Path(tempfile.gettempdir()) / "altclip-full")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-live-"))
    library = work / "library"
    library.mkdir()
    build("altclip", "full", args.model)
    start = time.perf_counter()
    dim = altclip_core.load(args.model, towers=("text",)).dim
    make_library(library, args.model.resolve(), args.photos, dim, publish=False)
    print(f"catalog of {args.photos:,} photos written in {time.perf_counter() - start:.0f} s")
    build_s, build_mb = map(float, python(BUILD, library).split())
    print(f"full build of the index: {build_s:.1f} s, peak RSS {build_mb:.0f} MB")
    catalog = Catalog.open(library)

    lib = Library.open(library)
    lib.refresh()
    lib.search("warm-up", k=10)  # loads the text tower
    texts = queries(2 * args.queries)
    idle = latencies(lib, texts[: args.queries])
    hits = [
        len({h.id for h in lib.search(t, k=10)} & {h.id for h in lib.search(t, k=10, exact=True)})
        for t in texts[:20]
    ]
    recall = sum(hits) / (10 * len(hits))
    print(
        f"query, idle: p50 {np.percentile(idle, 50) * 1e3:.1f} ms, p95 "
        f"{np.percentile(idle, 95) * 1e3:.1f} ms; recall@10 {recall:.3f} (20 queries)"
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
    print(
        f"query while an indexer writes: p50 {np.percentile(busy, 50) * 1e3:.1f} ms, p95 "
        f"{np.percentile(busy, 95) * 1e3:.1f} ms"
    )
    search_mb = peak_mb()
    print(f"this searcher's peak RSS: {search_mb} MB (the text tower included)")
    print(
        json.dumps(
            dict(
                photos=args.photos,
                full_build_s=round(build_s, 1),
                add_100_visible_s=round(add_s, 2),
                remove_100_visible_s=round(remove_s, 2),
                query_p50_ms=round(float(np.percentile(idle, 50)) * 1e3, 1),
                query_p95_ms=round(float(np.percentile(idle, 95)) * 1e3, 1),
                query_p95_during_indexing_ms=round(float(np.percentile(busy, 95)) * 1e3, 1),
                build_peak_rss_mb=int(build_mb),
                search_peak_rss_mb=int(search_mb),
                recall_at_10=round(recall, 3),
            )
        )
    )


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
