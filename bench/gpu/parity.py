#!/usr/bin/env python3
"""Forward parity of `lstm run --device D` with PyTorch: every golden case (written by PyTorch)
against its stored outputs, and with --large three larger random LSTMs against PyTorch in float64
(needs torch and a CUDA device; TF32 off), beside cuDNN FP32's own distance from float64.

  python3 bench/gpu/parity.py LSTM_EXE DEVICE GOLDEN_DIR [--large] [--precision fp32|tf32|3xtf32|bf16]

With --precision, `lstm run` forms its float32 products at that precision (tensor cores on CUDA)
and each float32 golden case is held to the precision's bound (README, "Precision of the matrix
products"); float64 cases stay float64.
"""
import json, os, shutil, struct, subprocess, sys, tempfile
import numpy as np

DT = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32}
NAME = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64"}

def read(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n)); data = f.read()
    meta = h.pop("__metadata__", {})
    out = {}
    for k, v in h.items():
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(data[a:b], dtype=DT[v["dtype"]]).reshape(v["shape"])
    return meta, out

def write(path, tensors):
    hdr, off, blobs = {}, 0, []
    for k, a in tensors.items():
        a = np.ascontiguousarray(a); b = a.tobytes()
        hdr[k] = {"dtype": NAME[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b); blobs.append(b)
    j = json.dumps(hdr).encode(); j += b" " * ((8 - len(j) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(j))); f.write(j)
        for b in blobs: f.write(b)

PRECISION = sys.argv[sys.argv.index("--precision") + 1] if "--precision" in sys.argv else "fp32"
BOUND = {"fp32": 1e-5, "tf32": 2e-3, "3xtf32": 1e-5, "bf16": 2e-2}[PRECISION]

def run(exe, dev, model, inp, out, bf, cell):
    cmd = [exe, "run", "--model", model, "--input", inp, "--output", out, "--device", dev, "--precision", PRECISION]
    if bf: cmd.append("--batch-first")
    if cell: cmd += ["--cell", cell]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        print("  run failed rc", r.returncode, r.stderr.strip()[-400:]); return None
    return read(out)[1]

def main():
    tmp = tempfile.mkdtemp()
    try:
        return check(sys.argv[1], sys.argv[2], sys.argv[3], tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

def check(exe, dev, gdir, tmp):
    bad = 0
    for fn in sorted(os.listdir(gdir)):
        if not fn.endswith(".safetensors"): continue
        meta, t = read(os.path.join(gdir, fn))
        tol = 1e-12 if meta["dtype"] == "float64" else BOUND
        cell = {"RNN_TANH": "rnn-tanh", "RNN_RELU": "rnn-relu"}.get(meta["mode"])
        o = run(exe, dev, os.path.join(gdir, fn), os.path.join(gdir, fn), os.path.join(tmp, fn), meta["batch_first"] == "true", cell)
        if o is None: bad += 1; continue
        errs = {k: float(np.max(np.abs(o[k].astype(np.float64) - t[k].astype(np.float64)))) for k in ("output", "h_n", "c_n") if k in t}
        ok = all(e <= tol for e in errs.values())
        bad += not ok
        print(f"{'ok  ' if ok else 'FAIL'} golden {fn:34s} " + " ".join(f"{k} {e:.2e}" for k, e in errs.items()) + f" (tol {tol:.0e})")
    if "--large" in sys.argv:
        import torch
        torch.backends.cuda.matmul.allow_tf32 = False; torch.backends.cudnn.allow_tf32 = False
        for (b, T, i, h, L) in [(16, 200, 512, 1024, 1), (64, 100, 256, 512, 2), (33, 57, 100, 129, 2)]:
            torch.manual_seed(7)
            lstm = torch.nn.LSTM(i, h, L, batch_first=True)
            x = torch.randn(b, T, i)
            sd = {k: v.detach().numpy() for k, v in lstm.state_dict().items()}
            mp, ip, op = (os.path.join(tmp, f"large_{n}.safetensors") for n in ("m", "x", "y"))
            write(mp, sd); write(ip, {"x": x.numpy()})
            o = run(exe, dev, mp, ip, op, True, None)
            if o is None: bad += 1; continue
            with torch.no_grad():
                ref = lstm.double().cuda()(x.double().cuda())[0].cpu().numpy()
                t32 = lstm.float().cuda()(x.cuda())[0].cpu().numpy()
            eo = float(np.max(np.abs(o["output"] - ref))); et = float(np.max(np.abs(t32 - ref)))
            ok = eo <= max(1e-5, 4 * et); bad += not ok
            print(f"{'ok  ' if ok else 'FAIL'} large {b},{T},{i},{h},{L}: max|ours - torch f64| {eo:.2e}, max|torch cuDNN f32 (no TF32) - torch f64| {et:.2e}")
    print(f"parity ({PRECISION}):", "passed" if bad == 0 else f"{bad} FAILED")
    return 1 if bad else 0

sys.exit(main())
