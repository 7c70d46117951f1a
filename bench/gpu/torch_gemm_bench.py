#!/usr/bin/env python3
"""torch.matmul (cuBLAS) timings at given GEMM shapes: the GPU peer of `lstm bench --gemm`.

A shape is M,N,K[,TA,TB]: C[M,N] = op(A) op(B) with op(A) [M,K] (A stored [K,M] when TA is 1) and
op(B) [K,N] (B stored [N,K] when TB is 1), row-major, as the project's GemmShape. Prints one JSON
object per shape and precision (fp32: TF32 off; tf32: PyTorch's allow_tf32; bf16: bfloat16
operands, float32 accumulation in cuBLAS), then a table.

  python3 bench/gpu/torch_gemm_bench.py --shapes 4096,4096,4096 6400,2048,256 --precisions fp32 tf32
"""
import argparse
import json
import sys

import torch


def parse(text):
    parts = [int(v) for v in text.split(",")]
    if len(parts) not in (3, 5) or min(parts[:3]) < 1:
        raise argparse.ArgumentTypeError(f"'{text}': a shape is M,N,K or M,N,K,TA,TB with M, N, K >= 1")
    m, n, k = parts[:3]
    ta, tb = (parts[3], parts[4]) if len(parts) == 5 else (0, 0)
    return m, n, k, ta, tb


def time_ms(fn, repeats, warmup):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", nargs="+", type=parse, default=[parse("4096,4096,4096")])
    ap.add_argument("--precisions", nargs="+", default=["fp32", "tf32"], choices=["fp32", "tf32", "bf16"])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device", file=sys.stderr)
        return 2
    dev = torch.device("cuda")
    records = []
    for precision in args.precisions:
        torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
        dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        for m, n, k, ta, tb in args.shapes:
            a = torch.randn((k, m) if ta else (m, k), device=dev, dtype=dtype)
            b = torch.randn((n, k) if tb else (k, n), device=dev, dtype=dtype)
            opa = a.t() if ta else a
            opb = b.t() if tb else b
            c = torch.empty((m, n), device=dev, dtype=dtype)
            ms = time_ms(lambda: torch.matmul(opa, opb, out=c), args.repeats, args.warmup)
            rec = {"peer": "torch-cublas", "precision": precision, "m": m, "n": n, "k": k, "transa": ta, "transb": tb,
                   "median_ms": ms, "tflops": 2.0 * m * n * k / (ms * 1e-3) / 1e12, "repeats": args.repeats,
                   "torch": torch.__version__, "gpu": torch.cuda.get_device_name()}
            records.append(rec)
            print(json.dumps(rec), flush=True)
    print(f"{'precision':>9} {'M':>6} {'N':>6} {'K':>6} TA TB {'ms':>9} {'TFLOP/s':>8}")
    for r in records:
        print(f"{r['precision']:>9} {r['m']:6d} {r['n']:6d} {r['k']:6d} {r['transa']:2d} {r['transb']:2d} {r['median_ms']:9.4f} {r['tflops']:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
