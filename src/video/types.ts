/** Values that flow from probe -> plan -> frames (docs/architecture.md "Data flow"). */

/** What planFrames needs to know about a video. */
export interface VideoInfo {
  /** Frames a decoder actually yields (not a container estimate). */
  totalFrames: number;
  /** Average frame rate. */
  fps: number;
  /** Display width and height, after rotation. */
  width: number;
  height: number;
}

export interface ProbedVideo extends VideoInfo {
  duration: number;
  codec: string;
  /** Clockwise rotation in degrees from the container's display matrix (0, 90, 180, 270). */
  rotation: number;
  path: string;
}

/** Two consecutive sampled frames that the model merges into one temporal patch. */
export interface FramePair {
  /** Positions in plan.indices (not video frame numbers). */
  frames: [number, number];
  /** Seconds, by the profile's timestamp rule. */
  time: number;
  /** The text placed before the pair's tokens, e.g. "<1.2 seconds>". */
  label: string;
}

export interface FramePlan {
  /** Video frame numbers to decode, ascending (may repeat where the reference repeats). */
  indices: number[];
  /** Planned size every frame is resized to (multiples of the profile's factor). */
  width: number;
  height: number;
  /** indices[i] / fps. */
  frameTimes: number[];
  pairs: FramePair[];
  /** Tokens each pair becomes after the spatial merge: (height/factor) * (width/factor). */
  tokensPerPair: number;
  factor: number;
  /**
   * Decoded (display) size of the source the plan was made for. planFrames sets them;
   * readFrames probes the file when they are missing.
   */
  sourceWidth?: number;
  sourceHeight?: number;
}

/** One decoded frame, RGB uint8, row-major, width*height*3 bytes. */
export interface Frame {
  /** Video frame number (decode order, as the reference reader counts). */
  index: number;
  /** Seconds: index / fps. */
  time: number;
  width: number;
  height: number;
  data: Uint8Array;
  /** Position in plan.indices. */
  position?: number;
}
