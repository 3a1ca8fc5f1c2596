#!/usr/bin/python3
"""Figure 1 peer: PyTorch 1.13 min-max observers + quantize_per_* on the tensor bench/quant-kernel.js wrote.

Usage: quant-kernel.py X.f32 ROWS COLS REPEATS
Times (best of REPEATS, time.perf_counter, tensor creation excluded) the observer pass, calculate_qparams
and quantize_per_* for per channel (axis 0), per tensor and per block (blocks of 32 along axis 1, done as
per channel on the [ROWS*COLS/32, 32] view: PyTorch 1.13 has no block observer), all symmetric int8
in [-127, 127]. Prints JSON: ms per granularity and sha256 of codes and scales, to check bit-exactness.
"""
import hashlib
import json
import sys
import time

import numpy as np
import torch
from torch.ao.quantization.observer import MinMaxObserver, PerChannelMinMaxObserver

path, rows, cols, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
x = torch.from_numpy(np.fromfile(path, dtype=np.float32).reshape(rows, cols))


def per_channel(t):
    obs = PerChannelMinMaxObserver(ch_axis=0, dtype=torch.qint8, qscheme=torch.per_channel_symmetric, quant_min=-127, quant_max=127)
    obs(t)
    scale, zp = obs.calculate_qparams()
    return torch.quantize_per_channel(t, scale.to(torch.float64), zp.to(torch.int64), 0, torch.qint8), scale


def per_tensor(t):
    obs = MinMaxObserver(dtype=torch.qint8, qscheme=torch.per_tensor_symmetric, quant_min=-127, quant_max=127)
    obs(t)
    scale, zp = obs.calculate_qparams()
    return torch.quantize_per_tensor(t, float(scale), int(zp), torch.qint8), scale


cases = {
    'channel': lambda: per_channel(x),
    'tensor': lambda: per_tensor(x),
    'block': lambda: per_channel(x.reshape(-1, 32)),
}
out = {'threads': torch.get_num_threads(), 'version': torch.__version__}
for name, fn in cases.items():
    q, scale = fn()  # warm-up, and the result to hash
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    out[name] = {
        'ms': min(times) * 1e3,
        'codes': hashlib.sha256(q.int_repr().numpy().tobytes()).hexdigest(),
        'scales': hashlib.sha256(scale.to(torch.float32).numpy().tobytes()).hexdigest(),
    }
print(json.dumps(out))
