#!/usr/bin/env python3
"""No number the series adds may be one mainline assigns (make series-check).

Reads the '+#define' lines the patches add to uapi headers (any
'include/uapi/' path) and to include/kvm/arm_vgic.h (the GICD_IIDR
revisions), puts each into a namespace and fails when its value is a number
harness/uapi-taken.tsv lists for that namespace under another name. A define
with mainline's name and mainline's value is mainline's own and passes.

Namespaces, decided from the name and from the defines around it in the
hunk (context lines count, so a hunk that appends to a list is enough):
  vgic-group      KVM_DEV_ARM_VGIC_GRP_* at the start of the line
  vgic-ctrl-attr  an indented define ('#define   NAME') whose nearest indented
                  neighbour above (or below) is a GRP_CTRL attribute
  iidr-revision   KVM_VGIC_IMP_REV_*
  group:NAME      an indented define below a group the series itself adds
                  (its attributes and value fields): no mainline number can
                  be taken there as long as the group's own number is free
A define that fits none of these fails: a new kind of number is not
silently unchecked; add a rule here and its mainline numbers to the table.

Usage: uapi-check.py [--table TSV] [PATCHES_DIR_OR_FILE ...]
A directory is read through its quilt 'series' files (every one below it,
so topic directories with their own series work); default: patches/.
Exit status 1 on a collision or an unclassified define.
"""
import argparse
import os
import re
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXTRA_HEADERS = ('include/kvm/arm_vgic.h',)
DEFINE = re.compile(r'#define(\s+)([A-Za-z_]\w*)(\()?\s*(.*)$')
HUNK = re.compile(r'@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@')


def load_table(path):
    taken = {}      # namespace -> {value: (name, since, source)}
    names = {}      # mainline name -> (namespace, value)
    with open(path) as f:
        rows = [l.rstrip('\n').split('\t') for l in f
                if l.strip() and not l.startswith('#')]
    for row in rows[1:]:                        # rows[0]: column names
        ns, value, name, since, source = row
        taken.setdefault(ns, {})[int(value, 0)] = (name, since, source)
        names[name] = (ns, int(value, 0))
    return taken, names


def patch_files(args):
    for arg in args:
        if os.path.isfile(arg):
            yield arg
            continue
        found = False
        for root, dirs, files in sorted(os.walk(arg)):
            dirs.sort()
            if 'series' not in files:
                continue
            found = True
            with open(os.path.join(root, 'series')) as f:
                for line in f:
                    line = line.split('#')[0].strip()
                    if line:
                        yield os.path.join(root, line.split()[0])
        if not found:
            sys.exit(f'uapi-check: no quilt series file below {arg}')


def hunks(path):
    """Yield (file, [(added, text)]) for each hunk on a checked header."""
    with open(path, errors='replace') as f:
        lines = f.read().split('\n')
    i, file = 0, None
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.startswith('+++ '):
            file = line[4:].split('\t')[0]
            file = file[2:] if file.startswith('b/') else None
            continue
        m = HUNK.match(line)
        if not m or file is None:
            continue
        old = int(m.group(1) or 1)
        new = int(m.group(2) or 1)
        body = []
        while (old > 0 or new > 0) and i < len(lines):
            l = lines[i]
            if l.startswith(('@@ ', 'diff --git ')):
                break                           # hunk shorter than its header says
            i += 1
            if l.startswith('\\'):
                continue
            tag, text = (l[:1] or ' '), l[1:]
            if tag in ' -':
                old -= 1
            if tag in ' +':
                new -= 1
                body.append((tag == '+', text))
        if '/include/uapi/' in '/' + file or file in EXTRA_HEADERS:
            yield file, body


def defines(body):
    """The #defines of a hunk, continuation lines joined:
    [added, name, indented, function-like, value]."""
    out, k = [], 0
    while k < len(body):
        added, text = body[k]
        k += 1
        m = DEFINE.match(text)
        if not m:
            continue
        value = m.group(4)
        while value.endswith('\\') and k < len(body):
            value = value[:-1] + ' ' + body[k][1].strip()
            k += 1
        value = re.sub(r'/\*.*?\*/', '', value).strip()
        # '#define   NAME': kernel style for an attribute or field of the
        # define above (one space or a tab: a define of its own)
        out.append([added, m.group(2), m.group(1).startswith('  '),
                    bool(m.group(3)), value])
    return out


def number(value, known):
    """The integer a define's value is, or None (expressions, macros)."""
    v = value.strip()
    while v.startswith('(') and v.endswith(')'):
        v = v[1:-1].strip()
    if re.fullmatch(r'[A-Za-z_]\w*', v):
        return known.get(v)
    m = re.fullmatch(r'(0[xX][0-9a-fA-F]+|\d+)[uUlL]*', v)
    return int(m.group(1), 0) if m else None


def classify(defs, names, series_groups):
    """Namespace of every define of a hunk (None: unclassified)."""
    ns = [None] * len(defs)

    def by_name(d):
        name, indented = d[1], d[2]
        if name in names:
            return names[name][0]
        if name.startswith('KVM_DEV_ARM_VGIC_GRP_') and not indented:
            return 'vgic-group'
        if name.startswith('KVM_VGIC_IMP_REV_'):
            return 'iidr-revision'
        return None

    for k, d in enumerate(defs):
        ns[k] = by_name(d)

    def from_neighbour(k, step):
        j = k + step
        while 0 <= j < len(defs):
            d = defs[j]
            if not d[2]:                        # a define at column 0
                if step < 0 and ns[j] == 'vgic-group':
                    if d[1] == 'KVM_DEV_ARM_VGIC_GRP_CTRL':
                        return 'vgic-ctrl-attr'
                    if d[1] in series_groups:
                        return 'group:' + d[1]
                return None
            if ns[j]:
                return ns[j]
            j += step
        return None

    for k, d in enumerate(defs):
        if ns[k] is None and d[2]:
            ns[k] = from_neighbour(k, -1) or from_neighbour(k, 1)
    return ns


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--table', default=os.path.join(TOP, 'harness', 'uapi-taken.tsv'))
    ap.add_argument('paths', nargs='*', default=[os.path.join(TOP, 'patches')])
    args = ap.parse_args()
    taken, names = load_table(args.table)

    items = []      # (patch, file, hunk defines)
    for p in patch_files(args.paths):
        for file, body in hunks(p):
            defs = defines(body)
            if any(d[0] for d in defs):
                items.append((os.path.basename(p), file, defs))

    # Groups the series adds (not mainline's): their attributes are its own.
    series_groups = {d[1] for _, _, defs in items for d in defs
                     if d[0] and not d[2] and d[1].startswith('KVM_DEV_ARM_VGIC_GRP_')
                     and d[1] not in names}
    known = {n: v for n, (_, v) in names.items()}
    for _, _, defs in items:
        for d in defs:
            v = number(d[4], known)
            if v is not None:
                known.setdefault(d[1], v)

    checked = bad = 0
    private = {}    # (patch, series group) -> names of its attributes and fields
    for patch, file, defs in items:
        for d, ns in zip(defs, classify(defs, names, series_groups)):
            added, name, _, fnlike, value = d
            if not added:
                continue
            where = f'{patch}: {name}'
            if ns is None:
                bad += 1
                print(f'uapi-check: FAIL: {where} ({file}) fits no namespace this check '
                      f'knows: add a rule to harness/uapi-check.py and the numbers '
                      f'mainline assigns there to harness/uapi-taken.tsv')
                continue
            if ns.startswith('group:'):
                private.setdefault((patch, ns[6:]), []).append(name)
                continue
            if not fnlike and re.fullmatch(r'\(?\s*[A-Za-z_]\w*\s*\)?', value):
                print(f'uapi-check: ok: {where} = {value}: an alias, no number of its own')
                continue
            checked += 1
            v = None if fnlike else number(value, known)
            if v is None:
                bad += 1
                print(f'uapi-check: FAIL: {where} = {value!r} ({ns}): not a number '
                      f'this check can compare')
                continue
            if name in names:
                if names[name] == (ns, v):
                    print(f'uapi-check: ok: {where} = {v}: mainline\'s own {ns} {v}')
                    continue
                mv = names[name][1]
                _, since, source = taken[ns][mv]
                bad += 1
                print(f'uapi-check: FAIL: {where} = {v}, but mainline defines {name} '
                      f'as {mv} ({since}; {source})')
                continue
            if v in taken.get(ns, {}):
                mname, since, source = taken[ns][v]
                bad += 1
                print(f'uapi-check: FAIL: {where} = {v} collides with mainline\'s '
                      f'{mname} ({ns} {v}, {since}; source: {source})')
                continue
            print(f'uapi-check: ok: {where} = {v}: {ns} {v} is free in mainline')
    for (patch, group), defs in private.items():
        print(f'uapi-check: ok: {patch}: {len(defs)} defines inside {group}, a group '
              f'only the series defines ({defs[0]} ... {defs[-1]})')
    print(f'uapi-check: {checked} numbers checked against {os.path.relpath(args.table, TOP)}, '
          f'{bad} failures')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
