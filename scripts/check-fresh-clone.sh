#!/usr/bin/env bash
# The README's first two commands on a fresh machine without ffmpeg: clone this repository's
# HEAD into a temporary folder, hide every system ffmpeg/ffprobe from PATH (and unset the env
# overrides), then `npm install && npm run demo` must exit 0, with ffmpeg and ffprobe coming
# from the optional @ffmpeg-installer / @ffprobe-installer packages (`timelens doctor`).
#
#   bash scripts/check-fresh-clone.sh [--keep]
#
# Needs git, node/npm, cmake and a compiler (the addon is built from source; with ccache and
# ~/.cache/timelens-native from an earlier build that takes about a minute). Only committed
# files are cloned. Exit 0: passed; non-zero: the failing step's output is printed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
keep=0
[ "${1:-}" = "--keep" ] && keep=1
work="$(mktemp -d "${TMPDIR:-/tmp}/timelens-fresh-XXXXXX")"
cleanup() { if [ "$keep" = 1 ]; then echo "fresh-clone: kept $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT
start=$(date +%s)

# PATH with ffmpeg and ffprobe removed: each PATH folder that holds one is replaced by a folder
# of links to everything else in it.
shadow="$work/path"
mkdir -p "$shadow"
newpath=""
i=0
IFS=: read -r -a dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  [ -d "$d" ] || continue
  if [ -e "$d/ffmpeg" ] || [ -e "$d/ffprobe" ]; then
    i=$((i + 1))
    farm="$shadow/$i"
    mkdir -p "$farm"
    for f in "$d"/*; do
      case "$(basename "$f")" in ffmpeg | ffprobe) continue ;; esac
      ln -s "$f" "$farm/$(basename "$f")"
    done
    d="$farm"
  fi
  newpath="${newpath:+$newpath:}$d"
done
export PATH="$newpath"
unset TIMELENS_FFMPEG TIMELENS_FFPROBE FFMPEG_BIN
if command -v ffmpeg >/dev/null 2>&1 || command -v ffprobe >/dev/null 2>&1; then
  echo "fresh-clone: FAILED to hide ffmpeg/ffprobe from PATH" >&2
  exit 1
fi

git clone --quiet --no-local "$root" "$work/repo"
cd "$work/repo"
echo "fresh-clone: $(git log -1 --format='%h %s') in $work/repo, ffmpeg/ffprobe hidden from PATH"
npm install --no-audit --no-fund >"$work/install.log" 2>&1 || { tail -50 "$work/install.log"; echo "fresh-clone: FAILED: npm install"; exit 1; }
echo "fresh-clone: npm install ok ($(( $(date +%s) - start )) s)"
npm run demo >"$work/demo.log" 2>&1 || { tail -50 "$work/demo.log"; echo "fresh-clone: FAILED: npm run demo"; exit 1; }
grep -E "^answer|parsed|span" "$work/demo.log" | head -3 || true
node dist/cli.js doctor --json >"$work/doctor.json"
node -e '
const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
for (const t of ["ffmpeg", "ffprobe"]) {
  if (r[t].source !== "package") { console.error(`fresh-clone: FAILED: ${t} came from ${r[t].source ?? r[t].error}, not the optional package`); process.exit(1); }
  console.log(`fresh-clone: ${t} ${r[t].detail}, version ${r[t].version}`);
}
console.log(`fresh-clone: addon ${r.addon.variant} (${r.addon.source})`);
' "$work/doctor.json"
echo "fresh-clone: passed in $(( $(date +%s) - start )) s"
