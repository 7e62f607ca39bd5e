/** The public API: Grounder (load, ground, stream, openVideo) and VideoSession. See docs/architecture.md. */
export {
  Grounder,
  streamSession,
  type GrounderInfo,
  type GrounderLoadOptions,
  type OpenVideoOptions,
  type VideoInput,
} from "./grounder";
export {
  VideoSession,
  splitAtInstruction,
  type GroundManyOptions,
  type SessionCache,
  type SessionInit,
} from "./video-session";
export { ProgressClock } from "./progress";
export { groundEvents, type EventHooks } from "./events";
