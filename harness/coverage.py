#!/usr/bin/env python3
"""make coverage's two steps between the runs and lcov (harness/coverage.sh).

  coverage.py gcda KTAP OBJDIR
      the "# GCDA <path> <offset> <base64>" lines harness/gcov-dump printed
      into KTAP -> the .gcda files, at their debugfs path below the gcov
      root (the object directory's absolute path), which must lie in OBJDIR
  coverage.py table INFO TREE TSV UNCOVERED
      lcov's tracefile INFO -> TSV (file lines lines_hit functions
      functions_hit, paths relative to TREE, plus a total row) and
      UNCOVERED (file function, for the files listed in FOCUS); prints the
      table
"""
import base64
import collections
import os
import sys

# The files whose coverage the issue sets a goal for (90% of the lines).
FOCUS = ["arch/arm64/kvm/vgic/vgic-mmio.c", "arch/arm64/kvm/vgic/vgic-mmio-v2.c",
         "arch/arm64/kvm/vgic/vgic-mmio-v3.c", "arch/arm64/kvm/vgic/vgic-its.c",
         "arch/arm64/kvm/vgic/vgic-kvm-device.c"]


def gcda(ktap, objdir):
    objdir = os.path.realpath(objdir)
    files = collections.defaultdict(dict)
    with open(ktap, errors="replace") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 5 and parts[:2] == ["#", "GCDA"]:
                files[parts[2]][int(parts[3])] = base64.b64decode(parts[4])
    for path, chunks in files.items():
        if not os.path.realpath(path).startswith(objdir + "/"):
            sys.exit("gcda: %s is not below %s" % (path, objdir))
        with open(path, "wb") as out:
            for off in sorted(chunks):
                out.write(chunks[off])
    print("gcda: %d files from %s" % (len(files), ktap))
    return 0 if files else 1


def table(info, tree, tsv, uncovered):
    tree = os.path.realpath(tree) + "/"
    # Counted from the DA and FNDA records (lcov 1.16's capture writes no
    # LF/LH summaries); a line or function reached by any host counts once.
    lines = collections.defaultdict(dict)
    funcs = collections.defaultdict(dict)
    src = None
    for line in open(info):
        key, _, val = line.rstrip("\n").partition(":")
        if key == "SF":
            src = os.path.realpath(val)
            src = src[len(tree):] if src.startswith(tree) else src
            lines[src], funcs[src]
        elif key == "DA":
            nr, count = val.split(",")[:2]
            lines[src][nr] = lines[src].get(nr, 0) + int(count)
        elif key == "FNDA":
            count, name = val.split(",", 1)
            funcs[src][name] = funcs[src].get(name, 0) + int(count)
    stats = {f: {"LF": len(lines[f]), "LH": sum(1 for c in lines[f].values() if c),
                 "FNF": len(funcs[f]), "FNH": sum(1 for c in funcs[f].values() if c)}
             for f in lines}
    missed = [(f, n) for f in FOCUS for n, c in sorted(funcs.get(f, {}).items()) if not c]
    rows = sorted(stats.items())
    total = {k: sum(s[k] for _, s in rows) for k in ("LF", "LH", "FNF", "FNH")}
    with open(tsv, "w") as out:
        out.write("file\tlines\tlines_hit\tfunctions\tfunctions_hit\n")
        for name, s in rows + [("total", total)]:
            out.write("%s\t%d\t%d\t%d\t%d\n" % (name, s["LF"], s["LH"], s["FNF"], s["FNH"]))
    with open(uncovered, "w") as out:
        out.write("file\tfunction\n")
        for src, name in sorted(missed):
            out.write("%s\t%s\n" % (src, name))
    print("%-45s %7s %7s %6s" % ("file", "lines", "hit", "%"))
    for name, s in rows + [("total", total)]:
        if name in FOCUS or name == "total" or "/vgic/" in name:
            pct = 100.0 * s["LH"] / s["LF"] if s["LF"] else 100.0
            print("%-45s %7d %7d %5.1f%%%s" % (name, s["LF"], s["LH"], pct,
                                               "  (goal 90%)" if name in FOCUS else ""))
    print("functions no test reached in the five files: %d (%s)" % (len(missed), uncovered))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["gcda"] and len(sys.argv) == 4:
        sys.exit(gcda(sys.argv[2], sys.argv[3]))
    if sys.argv[1:2] == ["table"] and len(sys.argv) == 6:
        sys.exit(table(*sys.argv[2:]))
    sys.exit(__doc__)
