// Facts of the TFLite flatbuffer schema (tensorflow/lite/schema/schema.fbs, version 3) that the
// writer and reader use. Numbers are the schema's; field slots are declaration order, where a union
// takes two slots (its type, then its value).

/** BuiltinOperator codes. */
export const OP = {
  ADD: 0, AVERAGE_POOL_2D: 1, CONCATENATION: 2, CONV_2D: 3, DEPTHWISE_CONV_2D: 4, DEQUANTIZE: 6,
  FULLY_CONNECTED: 9, LOGISTIC: 14, MAX_POOL_2D: 17, MUL: 18, RELU: 19, RELU_N1_TO_1: 20, RELU6: 21,
  RESHAPE: 22, SOFTMAX: 25, TANH: 28, PAD: 34, GATHER: 36, TRANSPOSE: 39, MEAN: 40, SUB: 41, DIV: 42,
  SQUEEZE: 43, STRIDED_SLICE: 45, EXP: 47, SPLIT: 49, CAST: 53, PRELU: 54, MAXIMUM: 55, MINIMUM: 57,
  LESS: 58, NEG: 59, PADV2: 60, GREATER: 61, SLICE: 65, TRANSPOSE_CONV: 67, TILE: 69, EXPAND_DIMS: 70, EQUAL: 71,
  LOG: 73, SUM: 74, SQRT: 75, RSQRT: 76, SHAPE: 77, POW: 78, REDUCE_MAX: 82, REDUCE_MIN: 89, SQUARE: 92,
  FLOOR_MOD: 95, LEAKY_RELU: 98, MIRROR_PAD: 100, ABS: 101, SPLIT_V: 102, ELU: 111, QUANTIZE: 114, ROUND: 116, HARD_SWISH: 117,
  SELECT_V2: 123, BATCH_MATMUL: 126, PLACEHOLDER_FOR_GREATER_OP_CODES: 127, BROADCAST_TO: 130, GELU: 150,
  // activations, math, logic, resampling (lower-elementwise.ts)
  DEPTH_TO_SPACE: 5, FLOOR: 8, RESIZE_BILINEAR: 23, SPACE_TO_DEPTH: 26, LOG_SOFTMAX: 50, ARG_MAX: 56, GREATER_EQUAL: 62,
  LESS_EQUAL: 63, SIN: 66, NOT_EQUAL: 72, LOGICAL_OR: 84, LOGICAL_AND: 86, LOGICAL_NOT: 87, RESIZE_NEAREST_NEIGHBOR: 97,
  CEIL: 104, COS: 108, ATAN2: 156, SIGN: 158,
  // index reductions, running sums (lower-reduce.ts)
  ARG_MIN: 79, REDUCE_PROD: 81, REVERSE_V2: 105, CUMSUM: 128,
  // scatter, gather, reverse sequence (lower-scatter.ts)
  GATHER_ND: 107, REVERSE_SEQUENCE: 112, SCATTER_ND: 122, FLOOR_DIV: 90,
  // selection (lower-sort.ts)
  TOPK_V2: 48,
  // read only (src/import/tflite): custom operators, sparse weights
  CUSTOM: 32, DENSIFY: 124, PACK: 83,
} as const;
export type BuiltinOp = keyof typeof OP;

export const OP_NAMES: Record<number, BuiltinOp> = Object.fromEntries(Object.entries(OP).map(([k, v]) => [v, k])) as Record<number, BuiltinOp>;

/** BuiltinOptions union member indices (0 = NONE). */
export const OPTIONS = {
  Conv2DOptions: 1, DepthwiseConv2DOptions: 2, Pool2DOptions: 5, FullyConnectedOptions: 8, SoftmaxOptions: 9,
  ConcatenationOptions: 10, AddOptions: 11, ReshapeOptions: 17, MulOptions: 21, PadOptions: 22, GatherOptions: 23,
  TransposeOptions: 26, ReducerOptions: 27, SubOptions: 28, DivOptions: 29, SqueezeOptions: 30,
  StridedSliceOptions: 32, ExpOptions: 33, SplitOptions: 35, CastOptions: 37, DequantizeOptions: 38,
  MaximumMinimumOptions: 39, LessOptions: 41, NegOptions: 42, PadV2Options: 43, GreaterOptions: 44,
  SliceOptions: 48, TransposeConvOptions: 49, ExpandDimsOptions: 52, EqualOptions: 53, ShapeOptions: 55,
  PowOptions: 56, SquareOptions: 66, LeakyReluOptions: 75, MirrorPadOptions: 77, AbsOptions: 78,
  SplitVOptions: 79, QuantizeOptions: 89, SelectV2Options: 98, BatchMatMulOptions: 101, BroadcastToOptions: 104,
  GeluOptions: 116,
  // lower-elementwise.ts
  ResizeBilinearOptions: 15, SpaceToDepthOptions: 19, LogSoftmaxOptions: 36, ArgMaxOptions: 40, GreaterEqualOptions: 45,
  LessEqualOptions: 46, NotEqualOptions: 54, LogicalOrOptions: 60, LogicalAndOptions: 62, LogicalNotOptions: 63,
  FloorModOptions: 72, ResizeNearestNeighborOptions: 74, CosOptions: 84, DepthToSpaceOptions: 94,
  // lower-reduce.ts
  ArgMinOptions: 57, ReverseV2Options: 81, CumsumOptions: 102,
  // read only (src/import/tflite)
  PackOptions: 59,
  // lower-scatter.ts
  GatherNdOptions: 83, ReverseSequenceOptions: 87, ScatterNdOptions: 97, FloorDivOptions: 65,
  // lower-sort.ts
  TopKV2Options: 34,
} as const;

export const PADDING = { SAME: 0, VALID: 1 } as const;
export const ACTIVATION = { NONE: 0, RELU: 1, RELU_N1_TO_1: 2, RELU6: 3, TANH: 4 } as const;

/** Vtable slots of the tables the writer emits. */
export const SLOT = {
  Model: { version: 0, operator_codes: 1, subgraphs: 2, description: 3, buffers: 4, metadata_buffer: 5, metadata: 6, signature_defs: 7 },
  OperatorCode: { deprecated_builtin_code: 0, custom_code: 1, version: 2, builtin_code: 3 },
  SubGraph: { tensors: 0, inputs: 1, outputs: 2, operators: 3, name: 4 },
  Operator: { opcode_index: 0, inputs: 1, outputs: 2, builtin_options_type: 3, builtin_options: 4, custom_options: 5 },
  Tensor: { shape: 0, type: 1, buffer: 2, name: 3, quantization: 4, is_variable: 5, sparsity: 6, shape_signature: 7, has_rank: 8 },
  QuantizationParameters: { min: 0, max: 1, scale: 2, zero_point: 3, details_type: 4, details: 5, quantized_dimension: 6 },
  Buffer: { data: 0, offset: 1, size: 2 },
  Metadata: { name: 0, buffer: 1 },
  TensorMap: { name: 0, tensor_index: 1 },
  SignatureDef: { inputs: 0, outputs: 1, signature_key: 2, subgraph_index: 4 },
} as const;

export const SCHEMA_VERSION = 3;
