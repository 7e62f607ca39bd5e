import { main } from "../../src/cli";

/** Runs the CLI in-process, capturing what it writes; resolves with its exit code. */
export async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const out = jest
    .spyOn(process.stdout, "write")
    .mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  const err = jest
    .spyOn(process.stderr, "write")
    .mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}
