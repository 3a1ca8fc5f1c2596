#!/usr/bin/python3
"""Figure 5 peer: PyTorch CPU training throughput of the same distillation as
`edgelm distill --teacher fixtures/models/mlp --student-width 0.1` (student 784-30-10-10, ReLU).

Usage: train.py DATA.npz EPOCHS
Hinton KD loss (T = 2, alpha = 0.5: alpha*T^2*KL + (1 - alpha)*CE), Adam lr 1e-3, batch 64, a fresh
shuffle per epoch, the teacher's logits cached before training (as edgelm does; the teacher here is a
seeded LeNet-300-100, and its forward pass is not timed), loss and accuracy accumulated per batch as
edgelm's loop does. Prints JSON: seconds of each epoch.
"""
import json
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

data = np.load(sys.argv[1])
epochs = int(sys.argv[2])
x = torch.from_numpy(data['x'].reshape(len(data['x']), -1).astype(np.float32))
y = torch.from_numpy(data['y'].astype(np.int64))
n = len(x)
torch.manual_seed(1)


def mlp(h1, h2):
    return nn.Sequential(nn.Linear(784, h1), nn.ReLU(), nn.Linear(h1, h2), nn.ReLU(), nn.Linear(h2, 10))


teacher = mlp(300, 100)
with torch.no_grad():
    cache = torch.cat([teacher(x[s:s + 256]) for s in range(0, n, 256)])
student = mlp(30, 10)
opt = torch.optim.Adam(student.parameters(), lr=1e-3)
T, alpha, batch = 2.0, 0.5, 64
g = torch.Generator().manual_seed(1)
seconds = []
for epoch in range(epochs):
    t0 = time.perf_counter()
    order = torch.randperm(n, generator=g)
    loss_sum, correct = 0.0, 0
    for s in range(0, n, batch):
        idx = order[s:s + batch]
        xb, yb, tb = x[idx], y[idx], cache[idx]
        z = student(xb)
        log_qs = F.log_softmax(z / T, dim=-1)
        log_pt = F.log_softmax(tb / T, dim=-1)
        kl = (log_pt.exp() * (log_pt - log_qs)).sum(-1).mean()
        loss = alpha * T * T * kl + (1 - alpha) * F.cross_entropy(z, yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss_sum += loss.item() * len(idx)
        correct += int((z.argmax(-1) == yb).sum())
    seconds.append(time.perf_counter() - t0)
print(json.dumps({'seconds': seconds, 'samples': n, 'threads': torch.get_num_threads()}))
