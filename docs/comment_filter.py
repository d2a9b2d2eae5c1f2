#!/usr/bin/env python3
"""Doxygen INPUT_FILTER for the project's headers: plain // comments become documentation.

The headers are written for people reading the source: a comment block above a declaration says
what it is, a comment after a member says what it holds, and the first comment block of a file
states the file's conventions. Doxygen only reads /// and ///< comments, so this filter rewrites,
at namespace and class scope only (never inside a function body):

  - the file's leading comment block          -> "/// \\file" and "/// text"
  - a comment block directly above a line of code -> "/// text"
  - "code;  // text" and "code,  // text"     -> "code;  ///< text" (and its continuation lines)

Comment blocks followed by a blank line (section banners) stay plain comments. The text is escaped
so that Doxygen and Markdown show it as written (shapes like [a, b], operators like a * b, names
like _idx). Doxygen calls the filter with the file name and reads the result from stdout; it only
affects what Doxygen documents, never the quoted source (\\snippet, the source browser).
"""
import re
import sys

SCOPE_OPENERS = re.compile(r'^\s*(template\s*<.*>\s*)?(namespace|struct|class|union|enum)\b|^\s*extern\s+"C"')


def escape(text):
    """Escapes the characters Doxygen or its Markdown would interpret."""
    out = []
    for i, ch in enumerate(text):
        if ch in '\\@<>&#%$*|`':
            out.append('\\' + ch)
        elif ch == '_':
            before = text[i - 1] if i > 0 else ' '
            after = text[i + 1] if i + 1 < len(text) else ' '
            # Inside a word an underscore is plain text to Markdown; at a word's edge it may start
            # or end emphasis.
            out.append('_' if before.isalnum() and after.isalnum() else '\\_')
        else:
            out.append(ch)
    return ''.join(out)


def code_characters(line):
    """Yields (index, character) for each character of `line` outside string and character
    literals (escapes inside a literal are skipped with it)."""
    in_string = None
    i = 0
    while i < len(line):
        ch = line[i]
        if in_string:
            if ch == '\\':
                i += 2
                continue
            if ch == in_string:
                in_string = None
        elif ch in '"\'':
            in_string = ch
        else:
            yield i, ch
        i += 1


def split_comment(line):
    """Returns (code, comment_text or None, column of //) ignoring // inside string literals."""
    for i, _ in code_characters(line):
        if line.startswith('//', i):
            return line[:i], line[i + 2:], i
    return line, None, -1


def braces(code):
    """Net { minus } of a line of code (string literals ignored)."""
    return sum(1 if ch == '{' else -1 if ch == '}' else 0 for _, ch in code_characters(code))


def doc_block(texts, indent, marker='///'):
    """A block of comment texts as documentation lines. Runs of indented lines (tables, formulas
    aligned by hand) are kept as written in a verbatim block; the rest is escaped prose."""
    out = []
    verbatim = False
    for text in texts:
        indented = text.startswith('  ') and text.strip() != ''
        if indented and not verbatim:
            out.append(indent + marker + ' \\verbatim')
            verbatim = True
        elif not indented and verbatim:
            out.append(indent + marker + ' \\endverbatim')
            verbatim = False
        out.append(indent + marker + ' ' + (text[1:] if verbatim else escape(text.strip())))
    if verbatim:
        out.append(indent + marker + ' \\endverbatim')
    return out


def filter_lines(lines):
    out = []
    stack = []          # one entry per open brace: True for a scope (namespace, class), False for a body
    statement = ''      # code since the last ; { or }, to tell what a { opens
    pending = []        # (indent, text) of a comment block waiting for what follows it
    in_header = True    # still in the file's leading comment block
    header = []
    trailing_column = -1

    def at_scope():
        return all(stack)

    def flush(as_doc):
        if as_doc:
            out.extend(doc_block([text for _, text in pending], pending[0][0] if pending else ''))
        else:
            out.extend(indent + '//' + text for indent, text in pending)
        pending.clear()

    for raw in lines:
        line = raw.rstrip('\n')
        code, comment, column = split_comment(line)
        is_comment_only = comment is not None and code.strip() == ''
        special = comment is not None and (comment.startswith('/') or comment.startswith('!'))

        if in_header:
            if is_comment_only and not special:
                header.append(comment)
                continue
            in_header = False
            if header:
                out.append('/// \\file')
                out.extend(doc_block(header, ''))
                out.append('')

        if is_comment_only and not special:
            if trailing_column >= 0 and column == trailing_column and at_scope():
                out.append(line[:column] + '///< ' + escape(comment.strip()))
                continue
            trailing_column = -1
            pending.append((line[:column], comment))
            continue
        trailing_column = -1

        if line.strip() == '':
            flush(False)
            out.append(line)
            statement = ''
            continue
        if code.lstrip().startswith('#'):
            flush(False)
            out.append(line)
            statement = ''
            continue

        # A line of code (possibly with a trailing comment).
        if pending:
            flush(at_scope() and not code.lstrip().startswith('#') and not code.lstrip().startswith('}'))
        if comment is not None and not special and at_scope() and code.rstrip().endswith((';', ',')):
            out.append(code + '///< ' + escape(comment.strip()))
            trailing_column = column
        else:
            out.append(line)

        statement += ' ' + code
        net = braces(code)
        if net > 0:
            for _ in range(net):
                stack.append(bool(SCOPE_OPENERS.search(statement)))
        elif net < 0:
            for _ in range(-net):
                if stack:
                    stack.pop()
        if ';' in code or '{' in code or '}' in code:
            statement = ''
    flush(False)
    return out


def main():
    with open(sys.argv[1], encoding='utf-8') as source:
        lines = source.readlines()
    sys.stdout.write('\n'.join(filter_lines(lines)) + '\n')


if __name__ == '__main__':
    main()
