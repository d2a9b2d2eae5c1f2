#!/usr/bin/env bash
# Run 37 (from the repository root), three packs carried:
#   build-device-a.tar.xz  run 35's pack (7937f82): the kernel before this run's changes
#   build-device.tar.xz    branch `copyfast` (876dc07): a full kv_block's copies in a branch of their
#                          own; every grouped configuration compiled
#   build-device-c.tar.xz  (folder build-device-c) branch `copydiv` (aa7edc3): copyfast, plus the warp's row tile and token
#                          slice by shifts and masks and no division for one head chunk; reduced set
# 1) The suite on copyfast (ctest -L gpu with every grouped configuration, pal-bench,
#    compute-sanitizer). 2) ctest -L gpu on copydiv. 3) A/B/C of the primary grid's grouped rows
#    (fp16 queries, auto and fp8 caches), A B C twice in this one call. 4) The main kernel's machine
#    code of each side, counted as in run 36.
set -u
export OUT=${OUT:-$PWD/device-out}
mkdir -p "$OUT/x" ab-a
tar -xJf build-device.tar.xz && PAL_SUITE_BUDGET_S=400 bash scripts/device_suite.sh build-device > "$OUT/x/suite.log" 2>&1
mv "$OUT"/ctest.log "$OUT"/sanitizer.log "$OUT"/nvidia-smi.txt "$OUT"/bench.log "$OUT"/x/ 2>/dev/null
tar -xJf build-device-a.tar.xz -C ab-a
tar -xJf build-device-c.tar.xz
mkdir -p "$OUT/x/copydiv"
OUT="$OUT/x/copydiv" PAL_SUITE_STEPS=info,ctest PAL_SUITE_BUDGET_S=200 bash scripts/device_suite.sh build-device-c \
  > "$OUT/x/copydiv/suite.log" 2>&1
rm -f "$OUT/x/copydiv/nvidia-smi.txt"
for round in 1 2; do
  for side in a b c; do
    case $side in a) dir=ab-a/build-device ;; b) dir=build-device ;; c) dir=build-device-c ;; esac
    LD_LIBRARY_PATH="$PWD/$dir/lib:/usr/local/cuda/lib64" timeout 60 $dir/bin/pal-bench --sections primary \
      --versions grouped --cold-method none --filter '^fp16/' \
      --csv "$OUT/x/ab_${side}_${round}.csv" > "$OUT/x/ab_${side}_${round}.log" 2>&1
    echo "exit $?" >> "$OUT/x/ab_${side}_${round}.log"
  done
done
for side in a b c; do
  case $side in a) dir=ab-a/build-device ;; b) dir=build-device ;; c) dir=build-device-c ;; esac
  cuobjdump -sass $dir/bin/pal-run > /tmp/all.sass 2>&1
  python3 - /tmp/all.sass "$OUT/x/sass_summary_$side.txt" <<'PY'
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
done
cd "$OUT" && tar czf logs.tgz x && rm -rf x
