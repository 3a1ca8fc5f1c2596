#!/usr/bin/python3
"""Figure 3 peer: per-channel int8 weight quantization of an ONNX model with onnx + PyTorch 1.13.

Usage: e2e-onnx.py IN.onnx OUT.onnx
Loads the model with onnx, quantizes every 2-D float initializer (Gemm/MatMul weight [K, N]) per
output channel (axis 1) with PerChannelMinMaxObserver + quantize_per_channel (symmetric int8 in
[-127, 127], as edgelm's dynamic mode), replaces it with int8 codes + scale + zero point behind a
DequantizeLinear node, and saves the model. The same weight work as edgelm's (edgelm stores the codes
as uint8 + 128 behind MatMulInteger, which onnxruntime runs faster; the bytes written are the same).
"""
import json
import sys
import time

t0 = time.perf_counter()
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
from onnx import helper, numpy_helper  # noqa: E402
from torch.ao.quantization.observer import PerChannelMinMaxObserver  # noqa: E402

src, dst = sys.argv[1], sys.argv[2]
t_import = time.perf_counter()
model = onnx.load(src)
graph = model.graph
keep, dq_nodes = [], []
for init in graph.initializer:
    if init.data_type != onnx.TensorProto.FLOAT or len(init.dims) != 2:
        keep.append(init)
        continue
    w = torch.from_numpy(numpy_helper.to_array(init))
    obs = PerChannelMinMaxObserver(ch_axis=1, dtype=torch.qint8, qscheme=torch.per_channel_symmetric, quant_min=-127, quant_max=127)
    obs(w)
    scale, zp = obs.calculate_qparams()
    codes = torch.quantize_per_channel(w, scale.to(torch.float64), zp.to(torch.int64), 1, torch.qint8).int_repr().numpy()
    name = init.name
    keep.append(numpy_helper.from_array(codes, f'{name}.q'))
    keep.append(numpy_helper.from_array(scale.numpy().astype(np.float32), f'{name}.scale'))
    keep.append(numpy_helper.from_array(np.zeros(scale.shape, np.int8), f'{name}.zero_point'))
    dq_nodes.append(helper.make_node('DequantizeLinear', [f'{name}.q', f'{name}.scale', f'{name}.zero_point'], [name], axis=1, name=f'{name}/dq'))
del graph.initializer[:]
graph.initializer.extend(keep)
nodes = dq_nodes + list(graph.node)
del graph.node[:]
graph.node.extend(nodes)
onnx.save(model, dst)
print(json.dumps({'import_s': t_import - t0, 'work_s': time.perf_counter() - t_import, 'quantized': len(dq_nodes)}))
