/** Model downloads from the Hugging Face hub into the standard HF cache (docs/hub.md). */
export { hubConfig, DEFAULT_ENDPOINT, type HubOptions, type HubConfig } from "./env";
export { resolveRepo, checkRepoName, type RepoSnapshot } from "./repo";
export { downloadFiles, type DownloadProgress, type DownloadRequest, type DownloadResult } from "./download";
export {
  selectCheckpointFiles,
  selectGgufFiles,
  hasCheckpoint,
  hasGguf,
  ggufTypeOf,
  isCheckpointFile,
  type RepoFile,
} from "./files";
export { HubCacheLayout } from "./cache-layout";
export { ensureFreeSpace, formatBytes, type DiskNeed } from "./disk";
