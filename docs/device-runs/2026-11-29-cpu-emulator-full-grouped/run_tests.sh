#!/bin/bash
# Runs the three grouped emulator test executables of build-emufull one after another (nice 19),
# each in full with every assertion shown (-s) so that the log names every scenario it ran.
set -u
out=${1:?output folder}
bin=build-emufull/bin
for t in pal_grouped_fp8_tests pal_grouped_emulator_grid_tests pal_grouped_emulator_tests; do
  echo "== $t: $(date -u +%FT%TZ)" >> "$out/timing.txt"
  cmd="env PAL_KERNEL_GRID=full nice -n 19 $bin/$t -s --durations yes"
  echo "command: $cmd" >> "$out/timing.txt"
  /usr/bin/time -f "$t: exit %x, wall %e s, user %U s, sys %S s, max RSS %M KiB" -o "$out/$t.time" \
    $cmd > "$out/$t.log" 2>&1
  cat "$out/$t.time" >> "$out/timing.txt"
done
echo "== done: $(date -u +%FT%TZ)" >> "$out/timing.txt"
