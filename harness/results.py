#!/usr/bin/env python3
"""Turn what an emulated host printed into result rows, and summarise them.

  results.py host HOST DIR   DIR/results.ktap and DIR/console.log of one host
                             -> DIR/<test>.ktap and DIR/summary.tsv
  results.py compare BASE HOST...
                             the rows of build/results/HOST beside those of
                             BASE/HOST (make check-vmm: the same run on the
                             unpatched base) -> build/results/compare.tsv, one
                             table per test (per QEMU: check x host, series /
                             base), and two rows per host in
                             build/results/compare/summary.tsv: the base run
                             produced results to compare with, and the series
                             passes every check the base passes
  results.py bench BASE SERIES
                             the "# bench" lines of harness/bench.c in
                             BASE/results.ktap and SERIES/results.ktap ->
                             a table and build/results/bench.tsv
  results.py profile SYSTEM_MAP DIR
                             the "# profile" lines of harness/bench.c
                             --profile in DIR/results.ktap and the
                             segments harness/tbprof.c wrote in DIR ->
                             per operation, the kernel functions (and user
                             space) that executed the most instructions
  results.py kselftest HOST DIR
                             as "host", for a host whose /init ran the
                             kselftest runner (make kselftest): its TAP,
                             nested in DIR/results.ktap, gives the tests
  results.py vgic-compare HARNESS KSELFTEST
                             the vgic group of tests.tsv in two summary.tsv
                             (make check's rows and make kselftest's), one
                             line per test; exits 1 if the passing sets differ
  results.py summary         every build/results/*/summary.tsv
                             -> build/results/summary.tsv, a report, and the
                             last line "N passed, N failed, N skipped"

Rows are "host test subtest result", result one of pass fail skip xfail.
A test's subtests (its own KTAP lines) give one row each; a test without
subtests, or one that failed as a whole (exit code, signal, timeout) gives a
row with subtest "-". harness/xfail.tsv turns known failures into xfail (its
host, test and subtest are globs).
Every kernel splat in the console log is a failed row of test "kernel".
"""
import collections
import fnmatch
import os
import re
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.environ.get("RESULTS") or os.path.join(os.environ.get("BUILD", os.path.join(TOP, "build")), "results")

RESULT_LINE = re.compile(r"^(not ok|ok) (\d+)(?: (.*?))?(?: # (.*))?$")
SPLATS = [
    # 6.12: "WARNING: CPU: 1 PID: 86 at FILE:LINE FUNC"; 7.3 (and mainline
    # since 6.19): "WARNING: FILE:LINE at FUNC, CPU#1: COMM/PID".
    ("WARNING", re.compile(r"WARNING: CPU: |WARNING: .* at .*, CPU#\d+: |"
                           r"WARNING: .*(locking|lock state|RCU usage|context)")),
    ("BUG", re.compile(r"\bBUG: |kernel BUG at")),
    ("Oops", re.compile(r"Internal error: |Unable to handle kernel|\bOops\b")),
    ("panic", re.compile(r"Kernel panic")),
    ("UBSAN", re.compile(r"UBSAN: ")),
    ("lockdep", re.compile(r"possible (circular|recursive) locking|inconsistent lock state|"
                           r"lock held when returning|bad unlock balance")),
    ("RCU stall", re.compile(r"rcu: INFO: .*detected stall|self-detected stall")),
    ("hung task", re.compile(r"blocked for more than \d+ seconds")),
    ("kmemleak", re.compile(r"unreferenced object 0x|new suspected memory leaks")),
]


def load_xfail():
    """harness/xfail.tsv: host-glob test-glob subtest-glob reason."""
    rules = []
    path = os.environ.get("XFAIL") or os.path.join(TOP, "harness", "xfail.tsv")
    if os.path.exists(path):
        for line in open(path):
            if line.strip() and not line.startswith("#"):
                host, test, sub, reason = line.rstrip("\n").split("\t", 3)
                rules.append((host, test, sub, reason))
    return rules


def apply_xfail(rules, host, test, sub, result, detail=""):
    # A timeout is never the known failure a rule describes: it stays a fail.
    if result != "fail" or detail.upper().startswith("TIMEOUT"):
        return result, None
    for h, t, s, reason in rules:
        if fnmatch.fnmatch(host, h) and fnmatch.fnmatch(test, t) and fnmatch.fnmatch(sub, s):
            return "xfail", reason
    return result, None


def parse_ktap(path):
    """Yield (test, top-level result, directive, nested lines) per test."""
    tests, cur, lines = [], None, []
    planned = None
    for raw in open(path, errors="replace"):
        line = raw.rstrip("\n")
        if line.startswith("# selftest: "):
            cur, lines = line.split()[2], []
        elif line.startswith("1..") and planned is None:
            planned = int(line[3:].split()[0])
        elif line.startswith("    ") and cur:
            lines.append(line[4:])
        else:
            m = RESULT_LINE.match(line)
            if m and cur:
                tests.append((cur, m.group(1), m.group(4) or "", lines))
                cur = None
    return tests, planned, cur


def parse_runner(path):
    """As parse_ktap, for the kselftest runner's TAP that harness/init.c nested.

    run_kselftest.sh prints "# selftests: kvm: NAME", the test's output with
    "# " before each line, then "ok N selftests: kvm: NAME [# SKIP]" or
    "not ok N ... # exit=N" / "# TIMEOUT N seconds".
    """
    tests, cur, lines, planned = [], None, [], None
    for raw in open(path, errors="replace"):
        if not raw.startswith("    "):
            continue  # init.c's own lines
        line = raw[4:].rstrip("\n")
        m = RESULT_LINE.match(line)
        if line.startswith("1..") and planned is None:
            planned = int(line[3:].split()[0])
        elif line.startswith("# selftests: "):
            cur, lines = line.split()[-1], []
        elif m and cur:
            tests.append((cur, m.group(1), m.group(4) or "", lines))
            cur = None
        elif cur:
            lines.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
    return tests, planned, cur


def assertion(lines):
    """The where and why of a selftest's "Test Assertion Failure", if any."""
    for i, line in enumerate(lines):
        if "Test Assertion Failure" in line:
            block = [l.strip() for l in lines[i + 1:i + 40] if l.strip()]
            why = [l for l in block if not re.match(r"(pid=|\d+\s+0x|\(stack trace)", l)]
            return " | ".join(why)[:400]
    return ""


def test_rows(name, status, directive, lines):
    """Rows (subtest, result, detail) of one test."""
    rows = []
    for line in lines:
        m = RESULT_LINE.match(line)
        if not m or not m.group(3):
            continue
        sub, d = m.group(3).strip(), (m.group(4) or "")
        if sub.startswith("#"):
            # "ok 3 # SKIP reason" (ksft_test_result_skip): no description
            sub, d = "", sub[1:].strip()
        if d.upper().startswith("SKIP"):
            reason = d[4:].strip()
            rows.append((sub or reason, "skip", reason))
        else:
            rows.append((sub, "pass" if m.group(1) == "ok" else "fail", d))
    whole_failed = status == "not ok"
    if whole_failed and not any(r[1] == "fail" for r in rows):
        why = assertion(lines)
        rows.append(("-", "fail", (directive or "failed") + (f": {why}" if why else "")))
    elif not rows:
        if directive.upper().startswith("SKIP"):
            reasons = [l for l in lines if "SKIP" in l.upper()]
            rows.append(("-", "skip", reasons[-1].strip() if reasons else "no reason printed"))
        else:
            rows.append(("-", "pass", ""))
    return rows


def scan_console(path):
    """Yield (kind, line number, running test, text) for each kernel splat."""
    running = "boot"
    if not os.path.exists(path):
        return
    for n, line in enumerate(open(path, errors="replace"), 1):
        if "kst-init: start " in line:
            running = line.split("kst-init: start ", 1)[1].strip()
            continue
        if "kst-init: end " in line:
            running = "between tests"
            continue
        for kind, rx in SPLATS:
            if rx.search(line):
                yield kind, n, running, line.strip()
                break


def host(name, d, parse=parse_ktap):
    rules = load_xfail()
    ktap = os.path.join(d, "results.ktap")
    rows, details = [], []
    tests, planned, unfinished = parse(ktap) if os.path.exists(ktap) else ([], None, None)

    for test, status, directive, lines in tests:
        with open(os.path.join(d, test + ".ktap"), "w") as f:
            f.write("\n".join(lines) + "\n")
        for sub, result, detail in test_rows(test, status, directive, lines):
            result, reason = apply_xfail(rules, name, test, sub, result, detail)
            rows.append((name, test, sub, result))
            details.append(reason or detail)

    if unfinished:
        rows.append((name, unfinished, "-", "fail"))
        details.append("the host stopped while this test ran")
    if planned is None or len(tests) + bool(unfinished) < planned:
        rows.append((name, "host", "completed", "fail"))
        details.append("the host did not run every test (crash or host timeout: see console.log)")

    for kind, n, running, text in scan_console(os.path.join(d, "console.log")):
        rows.append((name, "kernel", f"{kind} during {running} (console.log:{n})", "fail"))
        details.append(text)

    with open(os.path.join(d, "summary.tsv"), "w") as f:
        for row, detail in zip(rows, details):
            f.write("\t".join(row) + "\t" + detail.replace("\t", " ") + "\n")


def summary():
    rows = []
    for h in sorted(os.listdir(RESULTS)) if os.path.isdir(RESULTS) else []:
        p = os.path.join(RESULTS, h, "summary.tsv")
        if os.path.isfile(p):
            rows += [l.rstrip("\n").split("\t") for l in open(p) if l.strip()]
    with open(os.path.join(RESULTS, "summary.tsv"), "w") as f:
        f.write("host\ttest\tsubtest\tresult\n")
        for r in rows:
            f.write("\t".join(r[:4]) + "\n")

    count = lambda res, rs=rows: sum(1 for r in rs if r[3] == res)
    for h in sorted({r[0] for r in rows}):
        hr = [r for r in rows if r[0] == h]
        print(f"{h}: {count('pass', hr)} passed, {count('fail', hr)} failed, "
              f"{count('skip', hr)} skipped, {count('xfail', hr)} expected failures")
    for label, res in (("skipped", "skip"), ("expected failure", "xfail"), ("FAILED", "fail")):
        # One line per test and reason, naming the hosts it happened on.
        seen = {}
        for r in rows:
            if r[3] == res:
                detail = r[4] if len(r) > 4 and r[4] else ""
                seen.setdefault((r[1], r[2], detail), []).append(r[0])
        for (test, sub, detail), hosts in seen.items():
            where = ",".join(sorted(set(hosts)))
            times = f" x{len(hosts)}" if len(hosts) > len(set(hosts)) else ""
            if sub == detail:  # a skipped subtest without a name: its reason names it
                sub, detail = detail, ""
            print(f"  {label}: {test}" + (f" / {sub}" if sub != "-" else "") + f" [{where}]"
                  + times + (f": {detail}" if detail else ""))
    print(f"{count('pass')} passed, {count('fail')} failed, {count('skip')} skipped")
    return 1 if count("fail") or not rows else 0


def vgic_compare(harness_tsv, kselftest_tsv):
    """Each vgic test's result in two runs: fail, else xfail, else pass, else skip."""
    vgic = []
    for line in open(os.environ.get("TESTS") or os.path.join(TOP, "harness", "tests.tsv")):
        f = line.rstrip("\n").split("\t")
        if len(f) > 2 and not f[0].startswith("#") and "vgic" in f[2].split(",") \
                and f[0] not in vgic:
            vgic.append(f[0])

    def results(path):
        rows = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()] \
            if os.path.isfile(path) else []
        per_test = {}
        for r in rows:
            per_test.setdefault(r[1], collections.Counter())[r[3]] += 1
        res = {}
        for t, c in per_test.items():
            top = next(k for k in ("fail", "xfail", "pass", "skip") if c[k])
            res[t] = top + (f" ({c['pass']} passed, {c['skip']} skipped, {c['fail']} failed)"
                            if sum(c.values()) > 1 else "")
        return res

    a, b = results(harness_tsv), results(kselftest_tsv)
    print(f"vgic tests on v3: make check's rows ({os.path.relpath(harness_tsv, TOP)})"
          f" beside run_kselftest.sh's ({os.path.relpath(kselftest_tsv, TOP)})")
    w = max(len(t) for t in vgic)
    print(f"  {'test':{w}}  {'harness (make check)':40}  run_kselftest.sh")
    for t in vgic:
        ra, rb = a.get(t, "missing"), b.get(t, "missing")
        mark = "  <-- differs" if ra.split()[0] != rb.split()[0] else ""
        print(f"  {t:{w}}  {ra:40}  {rb}{mark}")
    pa = {t for t in vgic if a.get(t, "").startswith("pass")}
    pb = {t for t in vgic if b.get(t, "").startswith("pass")}
    if pa == pb:
        print(f"passing vgic tests: the same {len(pa)} of {len(vgic)} in both runs")
        return 0
    print(f"passing vgic tests DIFFER: only under the harness: {' '.join(sorted(pa - pb)) or '-'};"
          f" only under run_kselftest.sh: {' '.join(sorted(pb - pa)) or '-'}")
    return 1


def compare(base_dir, hosts):
    def rows_of(path):
        if not os.path.isfile(path):
            return []
        return [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]

    # (test, subtest) -> host -> (series result, base result, series detail, base detail)
    cells, table, checks = {}, [], []
    for h in hosts:
        series = rows_of(os.path.join(RESULTS, h, "summary.tsv"))
        base = rows_of(os.path.join(base_dir, h, "summary.tsv"))
        s_res = {(r[1], r[2]): r for r in series}
        b_res = {(r[1], r[2]): r for r in base}
        for key in dict.fromkeys([(r[1], r[2]) for r in series + base]):
            s_r, b_r = s_res.get(key, ["-"] * 5), b_res.get(key, ["-"] * 5)
            cells.setdefault(key, {})[h] = (s_r[3], b_r[3], s_r[4] if len(s_r) > 4 else "",
                                            b_r[4] if len(b_r) > 4 else "")
            table.append((h, key[0], key[1], s_r[3], b_r[3]))
        ran = any(r[3] in ("pass", "fail") and r[1] not in ("host", "kernel") for r in base)
        worse = collections.Counter(k[0] for k in cells if h in cells[k] and cells[k][h][1] == "pass"
                                    and cells[k][h][0] not in ("pass", "xfail"))
        checks.append((h, ran, worse))

    with open(os.path.join(RESULTS, "compare.tsv"), "w") as f:
        f.write("host\ttest\tsubtest\tseries\tbase\n")
        for row in table:
            f.write("\t".join(row) + "\n")

    # One table per test: its checks down, the hosts across, "series/base" in each cell;
    # '!' marks a check the series fails where the base passes.
    width = max([len(sub) for _, sub in cells] + [5])
    for test in dict.fromkeys(t for t, _ in cells):
        print(f"\n{test}: series/base per host ('!': the series fails where the base passes)")
        print(f"{'check':{width}} " + " ".join(f"{h:11}" for h in hosts).rstrip())
        for (t, sub), per_host in cells.items():
            if t != test:
                continue
            line = []
            for h in hosts:
                s_r, b_r = per_host.get(h, ("-", "-", "", ""))[:2]
                mark = "!" if b_r == "pass" and s_r not in ("pass", "xfail") else ""
                line.append(f"{s_r}/{b_r}{mark}".ljust(11))
            print(f"{sub if sub != '-' else t:{width}} " + " ".join(line).rstrip())
    # Why the checks that differ differ, from each run's own report, once for
    # all the hosts where they say the same (a check that did not run because
    # an earlier one failed is left to that one).
    why = {}
    for (test, sub), per_host in cells.items():
        for h, (s_r, b_r, s_d, b_d) in per_host.items():
            if s_r != b_r and not s_d.startswith("not run: "):
                why.setdefault((test, sub, s_r, s_d, b_r, b_d), []).append(h)
    print()
    for (test, sub, s_r, s_d, b_r, b_d), where in why.items():
        print(f"{test} / {sub} [{','.join(where)}]: series {s_r}" + (f" ({s_d})" if s_d else "")
              + f", base {b_r}" + (f" ({b_d})" if b_d else ""))
    os.makedirs(os.path.join(RESULTS, "compare"), exist_ok=True)
    with open(os.path.join(RESULTS, "compare", "summary.tsv"), "w") as f:
        for h, ran, worse in checks:
            f.write(f"{h}\tbase kernel\tsame scenario ran on the base\t{'pass' if ran else 'fail'}\t"
                    + ("" if ran else "no results from the base run: see build/results/base/" + h) + "\n")
            f.write(f"{h}\tbase kernel\tthe series passes every check the base passes\t"
                    f"{'fail' if worse else 'pass'}\t"
                    + ", ".join(f"{test}: {n} check{'s' if n > 1 else ''}" for test, n in worse.items())
                    + (" (the '!' cells of the tables)" if worse else "") + "\n")


def bench(base_dir, series_dir):
    def figures(d):
        rows, failed = {}, []
        path = os.path.join(d, "results.ktap")
        for line in open(path, errors="replace") if os.path.isfile(path) else []:
            line = line.strip()
            if line.startswith("# bench\t"):
                _, op, scale, ns = line.split("\t")
                rows[(op, scale)] = int(ns)
            elif line.startswith("not ok ") or line.startswith("Bail out!"):
                failed.append(line)
        return rows, failed

    (base, b_failed), (series, s_failed) = figures(base_dir), figures(series_dir)
    keys = list(dict.fromkeys(list(base) + list(series)))
    ms = lambda rows, k: f"{rows[k] / 1e6:.3f}" if k in rows else "-"
    table = [("operation", "scale", "base", "series", "ratio")]
    for k in keys:
        ratio = f"{base[k] / series[k]:.2f}" if k in base and k in series and series[k] else "-"
        table.append((k[0], k[1], ms(base, k), ms(series, k), ratio))
    with open(os.path.join(RESULTS, "bench.tsv"), "w") as f:
        for row in table:
            f.write("\t".join(row) + "\n")
    widths = [max(len(r[i]) for r in table) for i in range(5)]
    print("figures: ms under -icount shift=0 (1 ms = 1,000,000 guest instructions); ratio = base/series")
    for row in table:
        print(" | ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    # Cost per LPI: least-squares slope over the dense scales with 16 devices, 4 vCPUs.
    for op in dict.fromkeys(k[0] for k in keys):
        for name, rows in (("base", base), ("series", series)):
            pts = [(int(re.search(r"lpis=(\d+)", k[1]).group(1)), v) for k, v in rows.items()
                   if k[0] == op and re.fullmatch(r"lpis=\d+ devs=16 vcpus=4", k[1])]
            if len(pts) >= 3:
                n = len(pts)
                mx, my = sum(p[0] for p in pts) / n, sum(p[1] for p in pts) / n
                slope = sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)
                print(f"slope: {op}, {name}: {slope:.0f} instructions per LPI")
    for name, failed in (("base", b_failed), ("series", s_failed)):
        for line in failed:
            print(f"{name}: {line}")
    return 1 if s_failed or not series else 0


def profile(system_map, d, top=25):
    import bisect
    import collections
    syms = sorted((int(a, 16), n) for a, t, n in (l.split()[:3] for l in open(system_map))
                  if t in "tTwW")
    addrs = [a for a, _ in syms]
    per_op, reps = collections.defaultdict(collections.Counter), collections.Counter()
    for line in open(os.path.join(d, "results.ktap"), errors="replace"):
        line = line.strip()
        if not line.startswith("# profile\t"):
            continue
        _, segment, op = line.split("\t")
        reps[op] += 1
        for entry in open(os.path.join(d, f"segment.{segment}")):
            vaddr, count, insns = (int(x, 16 if i == 0 else 10) for i, x in enumerate(entry.split()))
            if vaddr < 1 << 63:
                fn = "[user space]"
            else:
                i = bisect.bisect_right(addrs, vaddr) - 1
                fn = syms[i][1] if i >= 0 else "[unknown]"
            per_op[op][fn] += count * insns
    for op, fns in per_op.items():
        total = sum(fns.values()) / reps[op]
        print(f"{os.path.basename(d)}: {op}: {total:,.0f} instructions (mean of {reps[op]})")
        for fn, n in fns.most_common(top):
            print(f"  {n / reps[op]:12,.0f} {100 * n / reps[op] / total:5.1f}%  {fn}")
    return 0 if per_op else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["host"]:
        host(sys.argv[2], sys.argv[3])
    elif sys.argv[1:2] == ["kselftest"]:
        host(sys.argv[2], sys.argv[3], parse_runner)
    elif sys.argv[1:2] == ["vgic-compare"]:
        sys.exit(vgic_compare(sys.argv[2], sys.argv[3]))
    elif sys.argv[1:2] == ["compare"]:
        compare(sys.argv[2], sys.argv[3:])
    elif sys.argv[1:2] == ["bench"]:
        sys.exit(bench(sys.argv[2], sys.argv[3]))
    elif sys.argv[1:2] == ["profile"]:
        sys.exit(profile(sys.argv[2], sys.argv[3]))
    elif sys.argv[1:2] == ["summary"]:
        sys.exit(summary())
    else:
        sys.exit(__doc__)
