#!/usr/bin/env bash
# Installs what is missing, builds, and opens the main view of Paged Attention Lab:
# the visualizer (pal-viz) when there is a display, otherwise the first walkthrough chapter in the
# terminal. Arguments are passed to whichever program runs.
#
#   bash scripts/quickstart.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash scripts/setup.sh
cmake --preset default
cmake --build --preset default --parallel "${PAL_JOBS:-$(nproc)}"

bin=build/bin
if [[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]]; then
  if [[ -x $bin/pal-viz ]]; then
    echo "quickstart: opening the visualizer ($bin/pal-viz)"
    exec "$bin/pal-viz" "$@"
  fi
  echo "quickstart: pal-viz was not built (see the configure output above for the reason); running the first walkthrough chapter instead"
else
  echo "quickstart: no display: running the first walkthrough chapter instead"
  echo "            (pal-viz needs \$DISPLAY or \$WAYLAND_DISPLAY; under ssh try 'ssh -X', or xvfb-run for screenshots)"
fi

first_chapter=$(find "$bin" -maxdepth 1 -name 'pal-01-*' -type f -perm -u+x 2>/dev/null | sort | head -n 1)
if [[ -n "$first_chapter" ]]; then
  echo "quickstart: $first_chapter"
  exec "$first_chapter" "$@"
fi
if [[ -x $bin/pal-run ]]; then
  echo "quickstart: no walkthrough chapter was built; running pal-run on a small scenario instead"
  exec "$bin/pal-run" --num-heads 4 --num-kv-heads 2 --head-size 64 --block-size 16 --seq-lens 37,100 "$@"
fi
echo "quickstart: neither pal-viz, a walkthrough chapter (pal-01-*) nor pal-run was built." >&2
echo "            What $bin holds: $(ls "$bin" 2>/dev/null | tr '\n' ' ')" >&2
exit 1
