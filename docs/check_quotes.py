#!/usr/bin/env python3
"""Fails when a page quotes source code that is no longer there.

Doxygen reports a \\snippet whose tag is missing, but not a \\dontinclude walk whose \\skip or
\\until pattern no longer matches: it silently quotes nothing, or the rest of the file. This check
replays every \\dontinclude walk of the pages against the current sources, the way Doxygen walks
them (a cursor moving down the file), and checks every \\snippet tag too, so that a page cannot
drift from the code it quotes.

    check_quotes.py <source root> <page.md>...
Exit status 0 when every quote is found, 1 otherwise (each problem printed as file:line: message).
"""
import os
import re
import sys

COMMAND = re.compile(r'^\s*\\(dontinclude|skip|skipline|until|line|snippet)\s+(.*?)\s*$')


def main():
    root = sys.argv[1]
    problems = []
    for page in sys.argv[2:]:
        source_lines = None
        source_name = None
        cursor = 0
        with open(page, encoding='utf-8') as handle:
            page_lines = handle.readlines()
        for number, text in enumerate(page_lines, start=1):
            match = COMMAND.match(text)
            if not match:
                continue
            command, argument = match.groups()
            where = f'{page}:{number}'
            if command in ('dontinclude', 'snippet'):
                name = argument.split()[0]
                path = os.path.join(root, name)
                if not os.path.isfile(path):
                    problems.append(f'{where}: \\{command} names {name}, which does not exist')
                    source_lines = None
                    continue
                with open(path, encoding='utf-8') as source:
                    lines = source.readlines()
                if command == 'snippet':
                    tag = argument.split(maxsplit=1)[1] if len(argument.split()) > 1 else ''
                    count = sum(1 for line in lines if f'[{tag}]' in line)
                    if count != 2:
                        problems.append(f'{where}: \\snippet {name} {tag}: the tag [{tag}] appears {count} times, not 2')
                    continue
                source_lines, source_name, cursor = lines, name, 0
                continue
            if source_lines is None:
                problems.append(f'{where}: \\{command} without a \\dontinclude before it')
                continue
            if command == 'line':
                while cursor < len(source_lines) and not source_lines[cursor].strip():
                    cursor += 1
                if cursor >= len(source_lines):
                    problems.append(f'{where}: \\line runs past the end of {source_name}')
                cursor += 1
                continue
            found = next((i for i in range(cursor, len(source_lines)) if argument in source_lines[i]), None)
            if found is None:
                problems.append(f'{where}: \\{command} "{argument}" is not in {source_name} (after line {cursor})')
                continue
            # \skip leaves the cursor on the matching line; the others move past it.
            cursor = found if command == 'skip' else found + 1
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
