/**
 * Gathering kvIdentity's inputs (src/cache/identity.ts) from a loaded model: the file hashes,
 * the package version and the addon's build stamp are read once per model; the video's hash
 * once per video. The key itself stays a pure function of what is gathered here.
 */
import { kvIdentity, packageVersion, readBuildStamp, type KvIdentityInputs } from "./identity";
import { sampledFileHash } from "./prefix-cache";

/** What a loaded model fixes: every kvIdentity input except the video, the profile and the layout. */
export type KvModelInputs = Omit<KvIdentityInputs, "files" | "profile" | "layout"> & {
  files: { model: string; mmproj: string };
};

/** What a video session adds to the key: everything but the profile and the layout. */
export type KvVideoInputs = Omit<KvIdentityInputs, "profile" | "layout">;

/**
 * The model's inputs. `loadOptions` and `nativeInfo` are passed whole (see identity.ts for why);
 * `decoder` is the frame decoder's version line when known.
 */
export async function modelKvInputs(
  loadOptions: { model: string; mmproj: string },
  nativeInfo: { addon: { path: string } },
  decoder: string | null = null,
): Promise<KvModelInputs> {
  const [model, mmproj] = await Promise.all([sampledFileHash(loadOptions.model), sampledFileHash(loadOptions.mmproj)]);
  return {
    files: { model, mmproj },
    packageVersion: packageVersion(),
    build: readBuildStamp(nativeInfo.addon.path),
    loadOptions,
    nativeInfo,
    decoder,
  };
}

/** The model's inputs plus one video's content hash. */
export async function videoKvInputs(model: KvModelInputs, videoPath: string): Promise<KvVideoInputs> {
  return { ...model, files: { ...model.files, video: await sampledFileHash(videoPath) } };
}

/** The key of one prefix of a video: its inputs, the profile and what the prefix holds. */
export function prefixCacheKey(video: KvVideoInputs, profile: string, layout: object): string {
  return kvIdentity({ ...video, profile, layout });
}
