"""Writes a copy of the kernel source with every probe call removed.

Used by scripts/check_noop_probe_sass.sh to show that the production kernel (NoopProbe) compiles to
exactly the machine code of a kernel that never mentions a probe. A probe call is a statement
`probe.<name>(...);` (parentheses balanced, possibly over several lines); the exp-sum hooks that
forward to the probe are replaced by the empty hooks.

usage: strip_probe_calls.py IN OUT
"""
import re
import sys


def strip(source: str) -> str:
    out = []
    i = 0
    while True:
        j = source.find("probe.", i)
        if j < 0:
            out.append(source[i:])
            break
        # Only statements: the call must start a statement (after ; { } ) or a newline).
        k = j - 1
        while k >= 0 and source[k] in " \t":
            k -= 1
        if k >= 0 and source[k] not in "\n;{})":
            out.append(source[i : j + 6])
            i = j + 6
            continue
        open_paren = source.find("(", j)
        depth = 0
        p = open_paren
        while True:
            if source[p] == "(":
                depth += 1
            elif source[p] == ")":
                depth -= 1
                if depth == 0:
                    break
            p += 1
        end = source.find(";", p) + 1
        out.append(source[i:j] + ";")  # an empty statement keeps `if (...) probe.x();` valid
        i = end
    text = "".join(out)
    return re.sub(r"ExpSumHooks<Probe, NUM_WARPS>\{&probe\}", "NoHooks{}", text)


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        src = f.read()
    stripped = strip(src)
    if "probe." in stripped.replace("probe.h", ""):
        sys.exit("strip_probe_calls: a probe call was left behind")
    with open(sys.argv[2], "w") as f:
        f.write(stripped)
