# Runs a one-input, one-output .tflite file with Arm NN (Debian python3-pyarmnn, CpuRef backend): an
# independent TFLite consumer for the tests. Usage: armnn-run.py MODEL.tflite INPUT.bin; INPUT.bin holds
# the float32 input (the file's input shape), the float32 output goes to stdout.
import sys, numpy as np, pyarmnn as ann
f, xf = sys.argv[1], sys.argv[2]
parser = ann.ITfLiteParser()
net = parser.CreateNetworkFromBinaryFile(f)
inb = parser.GetNetworkInputBindingInfo(0, parser.GetSubgraphInputTensorNames(0)[0])
outb = parser.GetNetworkOutputBindingInfo(0, parser.GetSubgraphOutputTensorNames(0)[0])
rt = ann.IRuntime(ann.CreationOptions())
opt, _ = ann.Optimize(net, [ann.BackendId('CpuRef')], rt.GetDeviceSpec(), ann.OptimizerOptions())
nid, _ = rt.LoadNetwork(opt)
shape = tuple(inb[1].GetShape()[i] for i in range(inb[1].GetNumDimensions()))
x = np.fromfile(xf, dtype=np.float32).reshape(shape)
out = ann.make_output_tensors([outb])
rt.EnqueueWorkload(nid, ann.make_input_tensors([inb], [x]), out)
sys.stdout.buffer.write(ann.workload_tensors_to_ndarray(out)[0].astype(np.float32).tobytes())
