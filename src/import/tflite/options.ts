// Builtin options of TFLite operators: field slots (schema.fbs declaration order) of the options tables the
// graph reader needs, read through the structure reader's bounds-checked accessors. An absent field takes
// the schema's default, as the runtime does.
import { OPTIONS } from '../../export/tflite/schema.js';
import type { Reader, TfliteOperatorInfo } from './index.js';

/** Slots of the options tables read (schema.fbs). */
export const FIELDS = {
  Conv2DOptions: { padding: 0, stride_w: 1, stride_h: 2, fused_activation_function: 3, dilation_w_factor: 4, dilation_h_factor: 5 },
  DepthwiseConv2DOptions: { padding: 0, stride_w: 1, stride_h: 2, depth_multiplier: 3, fused_activation_function: 4, dilation_w_factor: 5, dilation_h_factor: 6 },
  Pool2DOptions: { padding: 0, stride_w: 1, stride_h: 2, filter_width: 3, filter_height: 4, fused_activation_function: 5 },
  FullyConnectedOptions: { fused_activation_function: 0, weights_format: 1, keep_num_dims: 2 },
  SoftmaxOptions: { beta: 0 },
  ConcatenationOptions: { axis: 0, fused_activation_function: 1 },
  AddOptions: { fused_activation_function: 0 },
  SubOptions: { fused_activation_function: 0 },
  MulOptions: { fused_activation_function: 0 },
  DivOptions: { fused_activation_function: 0 },
  ReshapeOptions: { new_shape: 0 },
  ReducerOptions: { keep_dims: 0 },
  TransposeConvOptions: { padding: 0, stride_w: 1, stride_h: 2, fused_activation_function: 3 },
  ResizeBilinearOptions: { align_corners: 2, half_pixel_centers: 3 },
  ResizeNearestNeighborOptions: { align_corners: 0, half_pixel_centers: 1 },
  LeakyReluOptions: { alpha: 0 },
  SqueezeOptions: { squeeze_dims: 0 },
  StridedSliceOptions: { begin_mask: 0, end_mask: 1, ellipsis_mask: 2, new_axis_mask: 3, shrink_axis_mask: 4, offset: 5 },
  PackOptions: { values_count: 0, axis: 1 },
} as const;
export type OptionsTable = keyof typeof FIELDS;

export interface Options<T extends OptionsTable> {
  i8(f: keyof (typeof FIELDS)[T], dflt?: number): number;
  i32(f: keyof (typeof FIELDS)[T], dflt?: number): number;
  f32(f: keyof (typeof FIELDS)[T], dflt?: number): number;
  bool(f: keyof (typeof FIELDS)[T], dflt?: boolean): boolean;
  ints(f: keyof (typeof FIELDS)[T]): number[];
  /** Whether the operator has this options table at all. */
  present: boolean;
}

/**
 * The operator's options as table `T`. A file whose union type names another table is damaged; one
 * without options reads every field's default.
 */
export function optionsOf<T extends OptionsTable>(r: Reader, op: TfliteOperatorInfo, table: T, where: string): Options<T> {
  const t = op.optionsTable;
  if (t && op.optionsType !== OPTIONS[table]) r.fail(`${where} has options of union type ${op.optionsType}, not ${table}`);
  const slot = (f: keyof (typeof FIELDS)[T]): number => (FIELDS[table] as Record<string, number>)[f as string]!;
  return {
    present: t !== 0,
    i8: (f, d = 0) => (t ? r.scalar(t, slot(f), 'i8', d) : d),
    i32: (f, d = 0) => (t ? r.scalar(t, slot(f), 'i32', d) : d),
    f32: (f, d = 0) => (t ? r.scalar(t, slot(f), 'f32', d) : d),
    bool: (f, d = false) => (t ? r.scalar(t, slot(f), 'u8', d ? 1 : 0) !== 0 : d),
    ints: (f) => (t ? r.ints(t, slot(f)) : []),
  };
}
