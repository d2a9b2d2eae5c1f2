#!/usr/bin/env python3
"""Fails when a source file includes a header from a layer above its own.

The layers, lowest first (README.md and the top CMakeLists.txt say the same):

    core -> kernels -> reference, compare -> run -> front ends (tools, visualizer, walkthroughs,
    bench, python)

A folder may include its own headers and those of the layers below it; reference/ may include only
the kernels' floor headers (kernels/geometry.h, kernels/stage_registry.h, and the grouped kernel's
decomposition: kernels/grouped_geometry.h, kernels/split_planner.h), because it must stay an
independent check of the kernel. Front ends do not include each other. Inside the visualizer the
model includes nothing from panels/ or app/, and panels/ nothing from app/. tests/ may include
anything.

    check_layers.py <source root>      check the tree; exit 1 listing every violation as file:line
    check_layers.py --self-test        plant violations in a scratch tree and check each is caught
"""
import os
import re
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
SOURCE_SUFFIXES = ('.h', '.hpp', '.cpp', '.cc', '.cu', '.cuh', '.inc')

BELOW_RUN = {'core', 'kernels', 'reference', 'compare', 'run'}
FRONT_ENDS = ('tools', 'visualizer', 'walkthroughs', 'bench', 'python')

# What each folder may include: a set of top-level folders, or exact header paths.
ALLOWED = {
    'core': {'core'},
    'kernels': {'core', 'kernels'},
    # The grouped kernel's decomposition (its geometry and the split plan) is floor too: its reference
    # follows the same splits, warps and steps on purpose (reference/grouped_reference.h says why).
    'reference': {'core', 'reference', 'kernels/geometry.h', 'kernels/stage_registry.h',
                  'kernels/grouped_geometry.h', 'kernels/split_planner.h'},
    'compare': {'core', 'kernels', 'reference', 'compare'},
    'run': {'core', 'kernels', 'reference', 'compare', 'run'},
}
for front_end in FRONT_ENDS:
    ALLOWED[front_end] = BELOW_RUN | {front_end}

# Finer rules inside a folder: (prefix of the including file, forbidden prefix, why).
INNER = [
    ('visualizer/model/', 'visualizer/panels/', 'the model is headless: no panel in it'),
    ('visualizer/model/', 'visualizer/app/', 'the model is headless: no app in it'),
    ('visualizer/panels/', 'visualizer/app/', 'panels are views over the model; the app holds them'),
]


def problems_in(root):
    problems = []
    for top in sorted(ALLOWED):
        folder = os.path.join(root, top)
        for directory, _, files in os.walk(folder):
            for name in sorted(files):
                if not name.endswith(SOURCE_SUFFIXES):
                    continue
                path = os.path.join(directory, name)
                relative = os.path.relpath(path, root).replace(os.sep, '/')
                with open(path, encoding='utf-8', errors='replace') as handle:
                    for number, line in enumerate(handle, start=1):
                        match = INCLUDE.match(line)
                        if not match:
                            continue
                        header = match.group(1)
                        if '/' not in header:
                            continue  # a sibling or generated file, found by the include path
                        header_top = header.split('/')[0]
                        if header_top not in ALLOWED and header_top != 'tests':
                            continue  # not a project folder (a system or third-party header)
                        allowed = ALLOWED[top]
                        if header_top not in allowed and header not in allowed:
                            problems.append(f'{relative}:{number}: {top}/ includes "{header}", '
                                            f'a layer above it or beside it')
                            continue
                        for source_prefix, forbidden, why in INNER:
                            if relative.startswith(source_prefix) and header.startswith(forbidden):
                                problems.append(f'{relative}:{number}: includes "{header}": {why}')
    return problems


def self_test():
    """Plants one violation of each kind in a scratch tree; the check must report each, and none
    in the clean tree."""
    planted = {
        'core/a.h': '#include "kernels/b.h"\n',                       # core above
        'kernels/b.h': '#include "compare/c.h"\n',                    # kernels -> compare
        'reference/r.cpp': '#include "kernels/probes.h"\n',           # not a floor header
        'compare/c.h': '#include "run/recorded_run.h"\n',             # compare -> run
        'run/x.cpp': '#include "visualizer/model/session.h"\n',       # run -> a front end
        'tools/t.cpp': '#include "walkthroughs/harness.h"\n',         # front end -> front end
        'visualizer/model/m.cpp': '#include "visualizer/app/ui.h"\n',  # model -> app
        'visualizer/panels/p.cpp': '#include "visualizer/app/app.h"\n',  # panels -> app
    }
    clean = {
        'core/a.h': '#include "core/b.h"\n#include <vector>\n',
        'reference/r.cpp': '#include "kernels/geometry.h"\n#include "core/a.h"\n',
        'run/x.cpp': '#include "compare/c.h"\n',
        'visualizer/panels/p.cpp': '#include "visualizer/model/session.h"\n#include "run/x.h"\n',
        'visualizer/app/a.cpp': '#include "visualizer/panels/p.h"\n',
        'tests/t.cpp': '#include "visualizer/app/app.h"\n',
    }
    failures = []
    for label, tree, expected in (('planted', planted, len(planted)), ('clean', clean, 0)):
        with tempfile.TemporaryDirectory() as root:
            for relative, text in tree.items():
                path = os.path.join(root, relative)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, 'w', encoding='utf-8') as handle:
                    handle.write(text)
            found = problems_in(root)
            for problem in found:
                print(f'{label}: {problem}')
            if len(found) != expected:
                failures.append(f'{label} tree: {len(found)} violations reported, expected {expected}')
    for failure in failures:
        print('SELF-TEST FAILED: ' + failure)
    return 1 if failures else 0


def main():
    if len(sys.argv) == 2 and sys.argv[1] == '--self-test':
        return self_test()
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    problems = problems_in(sys.argv[1])
    for problem in problems:
        print(problem)
    if problems:
        print(f'{len(problems)} include(s) break the layering')
        return 1
    print('layering: every include points to the same layer or a lower one')
    return 0


if __name__ == '__main__':
    sys.exit(main())
