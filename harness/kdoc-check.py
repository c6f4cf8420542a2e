#!/usr/bin/env python3
"""Every function with external linkage that the series adds to kernel code
(not tools/) has a kernel-doc comment ("/**" block right above it).

Run from the kernel tree; compares base..HEAD. Exit 1 and name the functions
that lack one.
"""
import re
import subprocess
import sys

DEF = re.compile(r"^(?!static\b)(?!typedef\b)[A-Za-z_][\w \t\*]*?\b(\w+)\(([^;]*)$")


def added_functions():
    diff = subprocess.run(["git", "diff", "-U0", "base..HEAD", "--", "*.c", ":!tools"],
                          capture_output=True, text=True, check=True).stdout
    path = None
    for line in diff.splitlines():
        if line.startswith("+++ b/"):
            path = line[6:]
        elif line.startswith("+") and not line.startswith("+++"):
            m = DEF.match(line[1:])
            if m and m.group(1) not in ("if", "for", "while", "switch", "return"):
                yield path, m.group(1)


def has_kernel_doc(path, name):
    lines = open(path).read().splitlines()
    for i, line in enumerate(lines):
        if DEF.match(line) and DEF.match(line).group(1) == name:
            j = i - 1
            if j < 0 or not lines[j].rstrip().endswith("*/"):
                return False
            while j >= 0 and not lines[j].lstrip().startswith("/*"):
                j -= 1
            return j >= 0 and lines[j].lstrip().startswith("/**")
    return False


def main():
    missing = [f"{p}: {n}()" for p, n in added_functions() if not has_kernel_doc(p, n)]
    for m in missing:
        print(f"kdoc-check: FAIL: no kernel-doc for {m}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
