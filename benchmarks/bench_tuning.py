"""Fine-tuning compared per CPU-hour: top-layers, LoRA and full fine-tuning of the float e5 model, each measured by
the same grouped cross-validation `techmatch tune` runs (fitted on the other folds, the held-out needs ranked by the
code of `match`), with a learning curve (figures against the number of judged needs fitted on). Reads bdci-dev
from ../shared at run time; skipped when absent.

    python -m benchmarks.bench_tuning [--modes top-layers lora full] [--sizes 25 50 all] [--folds 5] [--int8]

`--int8` also measures each fold's model exported to ONNX with 8-bit weights (ONNX Runtime's dynamic quantisation),
untuned and tuned: does a tuned gain survive 8-bit weights?
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from benchmarks.common import SHARED_EVAL, machine, shared_benchmark

HEADS = (("t1_ndcg10", "T1 nDCG@10"), ("t1_p1", "T1 P@1"), ("t2_recall100", "T2 R@100"), ("t2_ndcg10", "T2 nDCG@10"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--benchmark", type=Path, default=SHARED_EVAL / "bdci-dev")
    parser.add_argument("--modes", nargs="+", default=["top-layers", "lora", "full"])
    parser.add_argument("--sizes", nargs="+", default=["all"], help="judged needs fitted on per fold, or all")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--no-negatives", action="store_true", help="in-batch negatives only (no judged ones)")
    parser.add_argument("--int8", action="store_true", help="also each model's export with 8-bit weights")
    parser.add_argument("--json", type=Path, help="also write every report to this file")
    args = parser.parse_args()
    bench = shared_benchmark(args.benchmark)
    if bench is None:
        sys.exit(0)
    from matcher.learning.tuning import cross_validate_finetune, headline
    from matcher.settings import Settings

    sizes = [None if s == "all" else int(s) for s in args.sizes]
    print(f"{machine()}; {bench.name}: {len(bench.queries)} needs, {len(bench.corpus)} listings, "
          f"{args.folds}-fold CV grouped by need, hard negatives {'off' if args.no_negatives else 'on'}")
    print(f"{'fine-tuned':24s}{'needs':>7s}" + "".join(f"{h:>12s}" for _, h in HEADS)
          + f"{'gain':>8s}{'CPU s/fold':>11s}{'gain/CPU-h':>11s}")
    reports, base_printed = [], False
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        for mode in args.modes:
            variants = {"8-bit ONNX": lambda enc: _int8(enc, Path(tmp) / "variant")} if args.int8 else None
            report, _ = cross_validate_finetune(bench, settings, args.folds, mode=mode, sizes=sizes,
                                                negatives=not args.no_negatives, variants=variants,
                                                say=lambda m: print("  " + m, file=sys.stderr, flush=True))
            reports.append(report)
            base = report["without"]
            if not base_printed:
                print(f"{'none (float, untuned)':24s}{'':>7s}" + "".join(f"{base[k]:12.3f}" for k, _ in HEADS))
                base_printed = True
            for figures in report["with"].values():
                gain = headline(figures) - headline(base)
                per_hour = gain / (figures["fit_cpu_s"] / 3600) if figures["fit_cpu_s"] else float("nan")
                print(f"{mode:24s}{figures['train_needs']:7.0f}" + "".join(f"{figures[k]:12.3f}" for k, _ in HEADS)
                      + f"{gain:+8.4f}{figures['fit_cpu_s']:11.1f}{per_hour:+11.2f}", flush=True)
            for name, variant in report.get("variants", {}).items():
                vbase = variant["without"]
                print(f"{'none, ' + name:24s}{'':>7s}" + "".join(f"{vbase[k]:12.3f}" for k, _ in HEADS))
                for figures in variant["with"].values():
                    gain = headline(figures) - headline(vbase)
                    print(f"{mode + ', ' + name:24s}{figures['train_needs']:7.0f}"
                          + "".join(f"{figures[k]:12.3f}" for k, _ in HEADS) + f"{gain:+8.4f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(reports, ensure_ascii=False, indent=2), "utf-8")


def _int8(encoder, folder: Path):
    """The float encoder's current weights saved, exported to ONNX and quantised to 8-bit weights."""
    from benchmarks.bench_runtimes import int8_encoder
    from embeddings.e5_onnx import export
    from matcher.learning import finetune

    finetune.save(encoder, folder / "float", {})
    export(folder / "float")
    return int8_encoder(folder / "float", folder / "int8")


if __name__ == "__main__":
    main()
