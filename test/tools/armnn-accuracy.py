# Runs a .tflite file with Arm NN (Debian python3-pyarmnn, CpuRef backend) on an .npz and prints top-1 accuracy:
# an independent TFLite consumer for the tests. Usage: armnn-accuracy.py MODEL.tflite DATA.npz N
import sys, numpy as np, pyarmnn as ann
f, data, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
parser = ann.ITfLiteParser()
net = parser.CreateNetworkFromBinaryFile(f)
inname = parser.GetSubgraphInputTensorNames(0)[0]
outname = parser.GetSubgraphOutputTensorNames(0)[0]
inb = parser.GetNetworkInputBindingInfo(0, inname)
outb = parser.GetNetworkOutputBindingInfo(0, outname)
rt = ann.IRuntime(ann.CreationOptions())
opt, _ = ann.Optimize(net, [ann.BackendId('CpuRef')], rt.GetDeviceSpec(), ann.OptimizerOptions())
nid, _ = rt.LoadNetwork(opt)
d = np.load(data)
x, y = d['x'].astype(np.float32), d['y']
shape = tuple(inb[1].GetShape()[i] for i in range(inb[1].GetNumDimensions()))
correct = 0
for i in range(n):
    sample = x[i].reshape(shape)
    info = inb[1]
    if info.GetDataType() == ann.DataType_QAsymmU8:  # integer-only input: quantize with the file's parameters
        sample = np.clip(np.round(sample / info.GetQuantizationScale()) + info.GetQuantizationOffset(), 0, 255).astype(np.uint8)
    elif info.GetDataType() == ann.DataType_QAsymmS8:
        sample = np.clip(np.round(sample / info.GetQuantizationScale()) + info.GetQuantizationOffset(), -128, 127).astype(np.int8)
    inp = ann.make_input_tensors([inb], [sample])
    out = ann.make_output_tensors([outb])
    rt.EnqueueWorkload(nid, inp, out)
    correct += int(np.argmax(ann.workload_tensors_to_ndarray(out)[0]) == y[i])
print(correct / n)
