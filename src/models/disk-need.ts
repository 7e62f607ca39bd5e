/**
 * Disk a conversion will write, estimated before the checkpoint is downloaded (docs/hub.md):
 * from the safetensors bytes of a bf16/f16 checkpoint (2 bytes per weight), the outputs take
 * about 1x at f16/bf16, 2x at f32, ~0.55x at q8_0 (8.5 bits per weight); a quantized copy
 * takes at most the q8_0 share. The mmproj is a small part of the weights, counted at 1x.
 */
const FACTOR: Record<string, number> = { F16: 1, BF16: 1, F32: 2, Q8_0: 0.55 };
const MMPROJ_SHARE = 0.15;

export function conversionBytes(checkpointBytes: number, want: { outtype: string | null; mmproj: boolean; quant: string | null }): number {
  let bytes = 0;
  if (want.outtype) bytes += checkpointBytes * (FACTOR[want.outtype.toUpperCase()] ?? 2);
  if (want.mmproj) bytes += checkpointBytes * MMPROJ_SHARE;
  if (want.quant) bytes += checkpointBytes * 0.55;
  return Math.ceil(bytes);
}
