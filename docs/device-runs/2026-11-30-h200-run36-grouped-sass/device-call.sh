#!/usr/bin/env bash
# Run 36 (carrying run 35's build-device.tar.xz): the machine code of the grouped main kernel, fp16,
# head 128, block 16, tensor cores, to count what a short thread block executes around its copies
# (cuobjdump exists on the device machine only). No kernel is run.
set -u
export OUT=${OUT:-$PWD/device-out}
tar -xJf build-device.tar.xz
cuobjdump -sass build-device/bin/pal-run > /tmp/all.sass 2>&1
python3 - /tmp/all.sass "$OUT" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
parts = re.split(r'(?m)^\s*Function : ', text)
n = 0
for part in parts[1:]:
    name = part.split('\n', 1)[0].strip()
    if 'grouped_attention_kernel' in name and 'NoopProbe' in name and 'Li128ELi16E' in name:
        n += 1
        open(f"{sys.argv[2]}/grouped_h128_bs16_{n}.sass", 'w').write('Function : ' + part)
        print(n, name)
print(len(parts) - 1, 'functions in all')
PY
ls -la "$OUT"
