#!/usr/bin/env bash
# The forward-loop paths side by side: `lstm bench` at the same shapes three times, with the
# default path (persistent where the slices of W_hh fit), with the persistent loop switched off
# (LSTM_PERSISTENT=0: the step loop, recorded as a CUDA graph on CUDA), and with graphs off too
# (LSTM_CUDA_GRAPHS=0: a host launch per kernel), inference and training; then one table of the
# three beside PyTorch's records for the same shapes where a file of them is given.
#   bash bench/gpu/paths.sh LSTM DEVICE OUTDIR [TORCH_RECORDS...]
# LSTM: the `lstm` executable; DEVICE: cuda (or ilgpu-cpu to try the flow without a GPU);
# TORCH_RECORDS: files of torch_lstm_bench.py's output (JSON lines among other lines).
# PATHS_SHAPES overrides the shapes; PATHS_REPEATS (default 20) the repeats; PATHS_TIMEOUT
# (default 180) each run's time limit in seconds.
set -u
lstm=$1 device=$2 out=$3
shift 3
shapes=${PATHS_SHAPES:-"5,50,10,20,2 1,500,128,256,1 4,150,256,256,1"}
repeats=${PATHS_REPEATS:-20}
limit=${PATHS_TIMEOUT:-180}
mkdir -p "$out"
run() {
    local name=$1
    shift
    echo "== path $name $(date -u +%T)"
    env "$@" timeout "$limit" "$lstm" bench --device "$device" --mode both --repeats "$repeats" \
        --json "$out/paths_$name.jsonl" --shapes $shapes 2>&1 | tee "$out/paths_$name.txt"
    echo "path $name rc ${PIPESTATUS[0]}"
    # The path each shape took, as `lstm bench` found it.
    grep '^# loop' "$out/paths_$name.txt" | sed "s/^/  $name: /"
}
run default
run nopersistent LSTM_PERSISTENT=0
run perstep LSTM_PERSISTENT=0 LSTM_CUDA_GRAPHS=0
python3 - "$out" "$@" <<'PY'
import json, os, re, sys
out, torch_files = sys.argv[1], sys.argv[2:]
def records(path):
    rows = []
    if not os.path.exists(path):
        return rows
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            try:
                rows.append(json.loads(line))
            except ValueError:
                pass
    return rows
def key(r):
    return (r["batch"], r["seq"], r["input"], r["hidden"], r["layers"], r["mode"])
cols = {}
paths = {}
for name in ("default", "nopersistent", "perstep"):
    cols[name] = {key(r): r["median_ms"] for r in records(f"{out}/paths_{name}.jsonl")}
    txt = f"{out}/paths_{name}.txt"
    if os.path.exists(txt):
        for m in re.finditer(r"^# loop (\S+): (.+)$", open(txt).read(), re.M):
            paths[(name, m.group(1))] = m.group(2).strip()
torch = {}
for f in torch_files:
    for r in records(f):
        try:
            torch.setdefault(key(r), {})[os.path.basename(f)] = r["median_ms"]
        except KeyError:
            pass
shapes = sorted(set(k for c in cols.values() for k in c))
tnames = sorted(set(n for v in torch.values() for n in v))
head = ["shape", "mode", "default", "path", "no persistent", "path", "per step"] + tnames
print("\t".join(head))
for k in shapes:
    shape = ",".join(str(x) for x in k[:5])
    row = [shape, k[5]]
    for name in ("default", "nopersistent", "perstep"):
        ms = cols[name].get(k)
        row.append("-" if ms is None else f"{ms:.3f}")
        if name != "perstep":
            row.append(paths.get((name, shape), "?"))
    row += [f"{torch[k][n]:.3f}" if n in torch.get(k, {}) else "-" for n in tnames]
    print("\t".join(row))
PY
