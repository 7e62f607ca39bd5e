/** GGUF reading, writing and Qwen-VL model checks. */
export { readGguf, readGgufSync, parseGgufBuffer } from "./reader";
export type { GgufFile, GgufTensorInfo, ReadGgufOptions } from "./reader";
export { writeGguf, gguf } from "./writer";
export type { GgufTypedValue, GgufMetadataInput, GgufTensorInput, WriteGgufOptions, WritableTensorType, TensorFill } from "./writer";
export {
  inspectTextModel,
  inspectMmproj,
  checkPair,
  inspectModelPair,
  SUPPORTED_TEXT_ARCHITECTURES,
  SUPPORTED_PROJECTORS,
} from "./validate";
export type { TextModelFacts, MmprojFacts, PairFacts, ModelPairInfo, TextArchitecture, ProjectorType } from "./validate";
export { QWEN_VL_SPECIAL_TOKENS, REQUIRED_SPECIAL_TOKENS, TOKEN_TYPE } from "./specials";
export { GGML_TYPES, ggmlTypeById, ggmlTypeByName, isSkippedArray } from "./types";
export type { GgufValue, GgufScalar, GgufSkippedArray, GgufKvType, GgmlTypeInfo, GgufValueTypeName } from "./types";
export { f32ToF16Bits, f16BitsToF32, quantizeQ8_0, dequantizeQ8_0 } from "./quant";
