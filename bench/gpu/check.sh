#!/usr/bin/env bash
# The GPU check in one go, on a machine with an NVIDIA GPU, PyTorch and no .NET. Run from the
# project root after `.gpu/` holds the self-contained `lstm` (see bench/README.md) and the PyTorch
# peer `torch_lstm_bench.py`:
#   bash bench/gpu/check.sh [OUTDIR]
# In order: the kernels on CUDA against the float64 host reference (`lstm selftest`), forward
# parity with PyTorch (the golden cases and three larger LSTMs, bench/gpu/parity.py), our timings,
# PyTorch cuDNN's on the same shapes (FP32, then with its default TF32), our GEMM kernels at the
# LSTMs' products and 4096³ beside torch.matmul (cuBLAS FP32 and TF32), the forward-loop paths
# (persistent, CUDA graph, launch by launch) at three shapes beside cuDNN, and the default
# `lstm train` on the `auto` device. Each step has its own time limit, so one that hangs
# does not take the others with it.
set -u
out=${1:-${OUT:-gpu-check}}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
root=$PWD
lstm=$root/.gpu/lstm
chmod +x "$lstm"
log=$out/check.txt
shapes="5,50,10,20,2 1,500,128,256,1 4,150,256,256,1 32,100,128,256,1 64,100,256,512,2 64,100,512,512,4 128,25,1024,1024,1 16,200,512,1024,1"
{ date -u; nvidia-smi -L; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv; } 2>&1 | tee "$log"
echo "== devices" | tee -a "$log"
timeout 60 "$lstm" devices 2>&1 | tee -a "$log"
echo "== selftest cuda" | tee -a "$log"
timeout 120 "$lstm" selftest --device cuda 2>&1 | tee -a "$log"; echo "selftest rc ${PIPESTATUS[0]}" | tee -a "$log"
echo "== parity cuda" | tee -a "$log"
timeout 180 python3 bench/gpu/parity.py "$lstm" cuda tests/data/golden --large 2>&1 | tee -a "$log"; echo "parity rc ${PIPESTATUS[0]}" | tee -a "$log"
for p in tf32 3xtf32 bf16; do
    echo "== parity cuda $p (tensor cores)" | tee -a "$log"
    timeout 120 python3 bench/gpu/parity.py "$lstm" cuda tests/data/golden --precision $p 2>&1 | tee -a "$log"; echo "parity $p rc ${PIPESTATUS[0]}" | tee -a "$log"
done
echo "== ours $(date -u +%T)" | tee -a "$log"
timeout 240 "$lstm" bench --device cuda --json "$out/ours.jsonl" --shapes $shapes 2>&1 | tee "$out/ours.txt"; echo "ours rc ${PIPESTATUS[0]}" | tee -a "$log"
echo "== pytorch $(date -u +%T)" | tee -a "$log"
timeout 120 python3 .gpu/torch_lstm_bench.py --no-tf32 2>&1 | tee "$out/torch_fp32.txt"; echo "pytorch fp32 rc ${PIPESTATUS[0]}" | tee -a "$log"
timeout 120 python3 .gpu/torch_lstm_bench.py 2>&1 | tee "$out/torch_tf32.txt"; echo "pytorch tf32 rc ${PIPESTATUS[0]}" | tee -a "$log"
# The forward-loop paths at the three small shapes (persistent, CUDA graph, launch by launch),
# inference and training, in one table beside the PyTorch records above (bench/gpu/paths.sh).
echo "== loop paths $(date -u +%T)" | tee -a "$log"
bash bench/gpu/paths.sh "$lstm" cuda "$out" "$out/torch_fp32.txt" "$out/torch_tf32.txt" 2>&1 | tee "$out/paths.txt" | grep -E '^(path |  [a-z]+: # loop|shape|[0-9])' | tee -a "$log"
echo "== gemm ours $(date -u +%T)" | tee -a "$log"
timeout 240 "$lstm" bench --gemm --device cuda --repeats 20 --json "$out/gemm_ours.jsonl" --shapes $shapes 2>&1 | tee "$out/gemm_ours.txt"; echo "gemm ours rc ${PIPESTATUS[0]}" | tee -a "$log"
# cuBLAS at the very products ours timed (read back from our records), FP32 (TF32 off) then TF32.
gemms=$(python3 -c 'import json,sys; print(" ".join("%d,%d,%d,%d,%d" % (r["m"], r["n"], r["k"], r["transa"], r["transb"]) for r in map(json.loads, open(sys.argv[1]))))' "$out/gemm_ours.jsonl" 2>/dev/null)
for p in tf32 3xtf32 bf16; do
    timeout 240 "$lstm" bench --gemm --device cuda --precision $p --repeats 20 --json "$out/gemm_ours_$p.jsonl" --shapes $shapes 2>&1 | tee "$out/gemm_ours_$p.txt"; echo "gemm ours $p rc ${PIPESTATUS[0]}" | tee -a "$log"
done
echo "== ours tf32 $(date -u +%T)" | tee -a "$log"
timeout 240 "$lstm" bench --device cuda --precision tf32 --json "$out/ours_tf32.jsonl" --shapes $shapes 2>&1 | tee "$out/ours_tf32.txt"; echo "ours tf32 rc ${PIPESTATUS[0]}" | tee -a "$log"
echo "== gemm pytorch $(date -u +%T)" | tee -a "$log"
timeout 180 python3 bench/gpu/torch_gemm_bench.py --shapes ${gemms:-4096,4096,4096} --precisions fp32 tf32 bf16 2>&1 | tee "$out/gemm_torch.txt"; echo "gemm pytorch rc ${PIPESTATUS[0]}" | tee -a "$log"
echo "== train on auto $(date -u +%T)" | tee -a "$log"
mkdir -p "$out/train" && (cd "$out/train" && timeout 90 "$lstm" train 2>&1) | tee "$out/train.txt" | tail -4 | tee -a "$log"
echo "== done $(date -u +%T)" | tee -a "$log"
