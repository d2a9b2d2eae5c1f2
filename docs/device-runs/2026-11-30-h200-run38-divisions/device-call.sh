#!/usr/bin/env bash
# Run 38 (from the repository root), two packs carried:
#   build-device-a.tar.xz  run 35's pack (7937f82): the kernel before this session's kernel changes
#   build-device-d.tar.xz  (folder build-device-d) branch `divonly` (7dc1af8): the warp's row tile and
#                          token slice by shifts and masks, no division for one head chunk; without
#                          run 37's copy branch; reduced set
# 1) ctest -L gpu on divonly. 2) A/B of the primary grid's grouped rows (fp16 queries, auto and fp8
# caches), A D A D in this one call. 3) divonly's main kernel's machine code, counted as in run 36.
set -u
export OUT=${OUT:-$PWD/device-out}
mkdir -p "$OUT/x/divonly" ab-a
tar -xJf build-device-d.tar.xz
tar -xJf build-device-a.tar.xz -C ab-a
OUT="$OUT/x/divonly" PAL_SUITE_STEPS=info,ctest PAL_SUITE_BUDGET_S=200 bash scripts/device_suite.sh build-device-d \
  > "$OUT/x/divonly/suite.log" 2>&1
rm -f "$OUT/x/divonly/nvidia-smi.txt"
for round in 1 2; do
  for side in a d; do
    case $side in a) dir=ab-a/build-device ;; d) dir=build-device-d ;; esac
    LD_LIBRARY_PATH="$PWD/$dir/lib:/usr/local/cuda/lib64" timeout 60 $dir/bin/pal-bench --sections primary \
      --versions grouped --cold-method none --filter '^fp16/' \
      --csv "$OUT/x/ab_${side}_${round}.csv" > "$OUT/x/ab_${side}_${round}.log" 2>&1
    echo "exit $?" >> "$OUT/x/ab_${side}_${round}.log"
  done
done
cuobjdump -sass build-device-d/bin/pal-run > /tmp/all.sass 2>&1
python3 - /tmp/all.sass "$OUT/x/sass_summary_d.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
with open(sys.argv[2], 'w') as out:
    for part in re.split(r'(?m)^\s*Function : ', text)[1:]:
        name = part.split('\n', 1)[0].strip()
        if 'grouped_attention_kernel' in name and 'NoopProbe' in name and 'Li128ELi16E' in name:
            ins = re.findall(r'/\*[0-9a-f]{4,}\*/\s+([^;]*);', part)
            copies = sum('LDGSTS' in i for i in ins)
            predicated = sum(i.startswith('@') for i in ins)
            out.write(f"{name}\n  instructions {len(ins)}, LDGSTS {copies}, predicated {predicated}\n")
PY
cd "$OUT" && tar czf logs.tgz x && rm -rf x
