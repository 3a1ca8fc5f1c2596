#!/usr/bin/python3
"""Figure 9 model: a GPT-2-small-shaped decoder (vocab 50257, width 768, 12 layers, 12 heads, 1024
positions, ~124 M parameters, seeded weights) exported by torch.onnx.export at opset 17 with dynamic
batch and sequence axes, from the GPT-2 code of fixtures/exports/build.py.

Usage: gpt2-124m.py OUT.onnx
"""
import importlib.util
import json
import os
import sys

import torch

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location('fixtures_build', os.path.join(here, '..', 'fixtures', 'exports', 'build.py'))
build = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build)

torch.manual_seed(0)
cfg = dict(vocab=50257, hidden=768, layers=12, heads=12, max_positions=1024)
lm = build.GPT2LMHeadModel(cfg).eval()
params = sum(p.numel() for p in lm.parameters())
ids = torch.randint(0, cfg['vocab'], (1, 8))
torch.onnx.export(build.DecoderNoCache(lm), (ids, torch.ones_like(ids)), sys.argv[1], opset_version=17, do_constant_folding=True,
                  input_names=['input_ids', 'attention_mask'], output_names=['logits'],
                  dynamic_axes={'input_ids': {0: 'batch_size', 1: 'sequence_length'}, 'attention_mask': {0: 'batch_size', 1: 'sequence_length'},
                                'logits': {0: 'batch_size', 1: 'sequence_length'}})
print(json.dumps({'params': params, 'bytes': os.path.getsize(sys.argv[1])}))
