"""The duplicate detector measured: precision and recall on the demo catalogue's relistings (the five listings it
holds twice, on purpose), and the pairs it finds among real listings (../shared/data/listings-51jishu, read at run
time, skipped when absent), with the time a check takes.

    python -m benchmarks.bench_duplicates [--data-dir D] [--show 30]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.common import machine, percentiles

DEMO_RELISTINGS = {("DN-C007", "DN-C075"), ("DR-C064", "DR-C088"), ("DR-C041", "DR-C203"), ("DR-C001", "DR-C201"),
                   ("DR-C009", "DR-C202")}
JISHU = Path(__file__).resolve().parents[2] / "shared" / "data" / "listings-51jishu"


def pairs_found(service, side: str) -> tuple[dict[tuple[int, int], dict], list[float]]:
    """Every unordered pair of listings the detector takes for copies (with its figures), and the seconds each
    check took."""
    found, seconds = {}, []
    for page in service.store.pages(side, "id"):
        for row in page:
            started = time.perf_counter()
            hits = service.catalogue.duplicates(side, row["id"])
            seconds.append(time.perf_counter() - started)
            found.update({tuple(sorted((row["id"], d["id"]))): d for d in hits})
    return found, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, help="a data folder to reuse (its embedding cache)")
    parser.add_argument("--show", type=int, default=30, help="51jishu pairs to print")
    args = parser.parse_args()
    from embeddings import CachedEncoder
    from matcher.app import App
    from matcher.settings import Settings

    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "demo")
        # one embedding cache for both catalogues (a data folder's, to reuse its vectors)
        encoder = CachedEncoder(settings.make_encoder(), (args.data_dir or Path(tmp)) / "embeddings-cache.db")
        service = App(settings, encoder=encoder)
        service.importer.load_demo()
        refs = {(side, r["id"]): r["ref"] for side in ("needs", "results") for r in service.store.rows(side)}
        found: set[tuple[str, str]] = set()
        seconds: list[float] = []
        for side in ("needs", "results"):
            pairs, took = pairs_found(service, side)
            found |= {tuple(sorted((refs[(side, a)], refs[(side, b)]))) for a, b in pairs}
            seconds += took
        hit = found & DEMO_RELISTINGS
        p50, p99 = percentiles(seconds)
        print(f"demo catalogue ({len(refs)} listings): {len(found)} pairs found, {len(hit)} of the "
              f"{len(DEMO_RELISTINGS)} relistings; precision {len(hit) / max(1, len(found)):.2f}, recall "
              f"{len(hit) / len(DEMO_RELISTINGS):.2f}; a check p50 {p50:.1f} ms, p99 {p99:.1f} ms")
        for pair in sorted(found - DEMO_RELISTINGS):
            print("  not a relisting:", pair)
        for pair in sorted(DEMO_RELISTINGS - found):
            print("  missed:", pair)
        service.close()
        if not (JISHU / "needs.jsonl").exists():
            print(f"{JISHU} not found: real listings not measured")
            return
        service = App(Settings(data_dir=Path(tmp) / "jishu"), encoder=encoder)
        for side in ("needs", "results"):
            report = service.importer.import_file(JISHU / f"{side}.jsonl", side, check_duplicates=False)
            pairs, took = pairs_found(service, side)
            p50, p99 = percentiles(took)
            rows = service.store.get_many(side, sorted({i for p in pairs for i in p}))
            print(f"51jishu {side}: {report.accepted} imported ({len({r.row for r in report.rejected})} rows "
                  f"rejected), {len(pairs)} duplicate pairs found among them; a check p50 {p50:.1f} ms, "
                  f"p99 {p99:.1f} ms")
            for a, b in sorted(pairs)[:args.show]:
                d = pairs[(a, b)]
                print(f"  #{a} {rows[a]['title'][:30]}  ~  #{b} {rows[b]['title'][:30]}  "
                      f"(text {d['similarity']:.3f}, title {d['title_similarity']:.2f})")
        service.close()


if __name__ == "__main__":
    main()
