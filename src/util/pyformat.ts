/**
 * Python-compatible number formatting and rounding. The reference pipeline is Python,
 * and its labels and scores depend on these exact semantics.
 */

/** Python's round(x): round half to even, on the exact binary value. */
export function pyRound(x: number): number {
  if (!Number.isFinite(x)) return x;
  const f = Math.floor(x);
  const diff = x - f;
  if (diff < 0.5) return f;
  if (diff > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Python's f"{x:.{digits}f}". JavaScript's toFixed rounds the exact binary value correctly
 * except on exact binary ties, where it picks the larger magnitude and Python picks the
 * even digit (0.25 -> "0.2" in Python, "0.3" in JS). An exact tie at d digits means
 * x * 2^(d+1) is an odd integer; that is the only case handled apart.
 */
export function pyFixed(x: number, digits = 1): string {
  if (!Number.isInteger(digits) || digits < 0 || digits > 15)
    throw new RangeError(`digits must be 0..15, got ${digits}`);
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "nan" : x > 0 ? "inf" : "-inf";
  const ax = Math.abs(x);
  const odd = ax * 2 ** (digits + 1);
  if (odd < 2 ** 53 && Number.isInteger(odd) && odd % 2 === 1) {
    const num = BigInt(odd) * 5n ** BigInt(digits); // = 2 * x * 10^d, odd
    const lower = (num - 1n) / 2n;
    const even = lower % 2n === 0n ? lower : lower + 1n;
    let s = even.toString().padStart(digits + 1, "0");
    if (digits > 0) s = `${s.slice(0, -digits)}.${s.slice(-digits)}`;
    return x < 0 ? `-${s}` : s;
  }
  return x.toFixed(digits);
}
