#!/usr/bin/env python3
"""Parse kernel .rst files with docutils and fail on any new error.

Usage: rst-check.py FILE...   (paths relative to the kernel tree, run from it)

Only errors that the base version of the file (git show base:FILE) does
not have count: the base's api.rst, for one, already has a malformed table.
Sphinx-only roles and directives that the kernel's documentation uses
(:c:func:, .. kernel-doc::, ...) are accepted as opaque, so only real
reStructuredText errors (bad tables, broken indentation, unterminated
markup) are reported.
"""
import io
import re
import subprocess
import sys

import docutils.core
import docutils.utils
from docutils.parsers.rst import Directive, directives, roles


class Opaque(Directive):
    has_content = True
    optional_arguments = 99
    final_argument_whitespace = True
    option_spec = None

    def run(self):
        return []


class AnyOptions(dict):
    def __missing__(self, key):
        return directives.unchanged


Opaque.option_spec = AnyOptions()

for name in ("kernel-doc", "kernel-feat", "kernel-abi", "kernel-include", "c:function",
             "c:type", "c:struct", "c:macro", "toctree", "only", "code-block",
             "cssclass", "flat-table", "seealso", "glossary", "tabularcolumns"):
    directives.register_directive(name, Opaque)


def opaque_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    return [], []


for name in ("c:func", "c:type", "c:macro", "c:struct", "c:member", "ref", "doc",
             "manpage", "file", "envvar", "option", "program", "abbr", "kbd"):
    roles.register_local_role(name, opaque_role)


def errors(text, path):
    """The set of docutils errors in text, without line numbers."""
    stream = io.StringIO()
    docutils.core.publish_doctree(
        text, source_path=path,
        settings_overrides={"report_level": 3, "halt_level": 5, "warning_stream": stream})
    return {re.sub(r"^[^:]*:\d+: ", "", line) for line in stream.getvalue().splitlines()
            if re.search(r"\((ERROR|SEVERE)/\d\)", line)}


def main(paths):
    failed = 0
    for path in paths:
        with open(path) as f:
            now = errors(f.read(), path)
        base = subprocess.run(["git", "show", f"base:{path}"], capture_output=True, text=True)
        before = errors(base.stdout, path) if base.returncode == 0 else set()
        new = now - before
        if new:
            failed = 1
            for e in sorted(new):
                print(f"rst-check: FAIL: {path}: {e}", file=sys.stderr)
        else:
            print(f"rst-check: ok: {path} ({len(before)} errors already in the base)")
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
