#!/usr/bin/env python3
"""Counts, from Catch2 `-s` logs of the grouped emulator tests, the configurations each check ran:
(query dtype, cache dtype, math path, head size, block size), with passed / failed assertions.
Usage: count_configs.py LOG... (plain or .gz). The math path is the one a log names ("tensor cores",
"CUDA cores"); where it names none (the grid's first case), the dtype's default: tensor cores for
fp16/bf16, CUDA cores for fp32 (kernels/grouped_launch.h, GroupedOptions::math)."""
import collections, gzip, re, sys

scenario = re.compile(r"(?:auto->\S+|grouped) (fp16|bf16|fp32)(?:/kv (fp8_e4m3|fp8_e5m2))?\s.*?head_size=\s*(\d+)\s+block_size=\s*(\d+)", re.S)
math_re = re.compile(r"\|\s+(tensor\s+cores|CUDA\s+cores)")

def blocks(text):
    # one block per assertion: its result line (PASSED/FAILED) and everything up to the next one
    parts = re.split(r"^(\S+\.cpp:\d+: (?:PASSED|FAILED):)$", text, flags=re.M)
    for i in range(1, len(parts), 2):
        yield ("PASSED" in parts[i]), parts[i + 1]

total = collections.Counter()
for path in sys.argv[1:]:
    text = (gzip.open if path.endswith(".gz") else open)(path, "rt").read()
    per = collections.defaultdict(lambda: [0, 0])
    unnamed = [0, 0]
    for passed, body in blocks(text):
        m = scenario.search(body)
        if not m:
            unnamed[0 if passed else 1] += 1
            continue
        dtype, kv, head, block = m.group(1), m.group(2) or "auto", int(m.group(3)), int(m.group(4))
        mm = math_re.search(body)
        math = " ".join(mm.group(1).split()) if mm else ("CUDA cores" if dtype == "fp32" else "tensor cores")
        per[(dtype, kv, math, head, block)][0 if passed else 1] += 1
    print(f"== {path}: {len(per)} configurations (dtype, cache, math, head, block) named by assertions; "
          f"{unnamed[0]} passed / {unnamed[1]} failed assertions name none")
    groups = collections.defaultdict(list)
    for key, (p, f) in per.items():
        groups[key[:3]].append((key[3], key[4], p, f))
    for (dtype, kv, math), rows in sorted(groups.items()):
        heads = sorted({r[0] for r in rows}); blocks_ = sorted({r[1] for r in rows})
        p = sum(r[2] for r in rows); f = sum(r[3] for r in rows)
        print(f"  {dtype:4} {kv:8} {math:12}: {len(rows):3} configurations (heads {heads}, blocks {blocks_}); "
              f"assertions {p} passed, {f} failed")
        for key in [(dtype, kv, math, h, b) for h, b, *_ in rows]:
            total[key] += 1
    for key, (p, f) in sorted(per.items()):
        if f:
            print(f"  FAILED in {key}: {f} assertion(s)")
print(f"== all logs: {len(total)} distinct configurations")
by = collections.Counter(k[:2] for k in total)
for (dtype, kv), n in sorted(by.items()):
    print(f"  {dtype:4} {kv:8}: {n} configurations")
