# Exports torchvision mobilenet_v2 (width 1.0, 1000 classes, random weights with non-trivial batch-norm
# statistics) at 224×224, batch 1, opset 13, to argv[1]: the full-size CNN of figure 11 (14 MB, so it is
# generated at bench time rather than committed).
import json, sys
import torch
import torch.nn as nn
import torchvision

torch.manual_seed(11)
cnn = torchvision.models.mobilenet_v2(width_mult=float(sys.argv[2]) if len(sys.argv) > 2 else 1.0).eval()
for m in cnn.modules():
    if isinstance(m, nn.BatchNorm2d):
        m.running_mean.copy_(0.1 * torch.randn_like(m.running_mean))
        m.running_var.copy_(torch.rand_like(m.running_var) + 0.5)
torch.onnx.export(cnn, (torch.randn(1, 3, 224, 224),), sys.argv[1], opset_version=13,
                  input_names=['input'], output_names=['output'], do_constant_folding=True)
print(json.dumps({'file': sys.argv[1]}))
