#!/usr/bin/env python3
"""Fails on a raw kernel-version comparison anywhere in src/ outside src/base/kernel.{h,cc}.

Every version-dependent fact is a named rule in src/base/kernel.* (KernelRule, and the named
accessors of Kernel); code elsewhere asks the rule, never the version. This lint reports each
file:line that compares versions by hand: `.atLeast(`, `x.version <`/`>`/`<=`/`>=`/`<=>`,
`.major()`/`.minor()` in a comparison, `KernelVersion::of(...)` in a comparison.

scripts/kernel-rules-allow.txt lists files (paths from the repository root, one a line, `#`
comments) that are not converted yet; their findings are reported as allowed and do not fail.

Usage: lint-kernel-rules.py [--root DIR] [--allow FILE] [--self-test]
Exit status: 0 clean, 1 a finding outside the allow-list (or a failed self-test), 2 bad usage.
"""
import argparse
import os
import re
import sys

CMP = r"(?:<=>|<=|>=|==|!=|(?<![-<])<(?![<=])|(?<![->])>(?![>=]))"
# Ordering only: `==`/`!=` on a version is not a release rule (and wire protocol versions use them).
ORD = r"(?:<=>|<=|>=|(?<![-<])<(?![<=])|(?<![->])>(?![>=]))"
# An operator before the operand: spaced or after ")" (so `optional<KernelVersion> version` is not one).
LCMP = r"(?:(?<=\s)|(?<=\)))" + CMP
LORD = r"(?:(?<=\s)|(?<=\)))" + ORD
PATTERNS = [
    ("KernelVersion::atLeast", re.compile(r"\.\s*atLeast\s*\(|->\s*atLeast\s*\(")),
    ("version compared", re.compile(r"(?:\.|->)\s*version\s*" + ORD + r"(?!\s*\))")),
    ("version compared", re.compile(LORD + r"\s*(?:[A-Za-z_]\w*\s*(?:\.|->)\s*)+version\b(?!\s*\()")),
    ("major()/minor() compared", re.compile(r"\b(?:major|minor)\s*\(\s*\)\s*" + CMP)),
    ("major()/minor() compared", re.compile(LCMP + r"\s*(?:[A-Za-z_]\w*\s*(?:\.|->)\s*)*(?:major|minor)\s*\(\s*\)")),
    ("KernelVersion::of compared", re.compile(LCMP + r"\s*KernelVersion::of\s*\(")),
    ("KernelVersion::of compared", re.compile(r"KernelVersion::of\s*\([^()]*\)\s*" + CMP)),
]
PROTOCOL = re.compile(r"[Pp]rotocol\w*[Vv]ersion|proto\w*\s*(?:\.|->|::)\s*version")
SOURCE_EXT = (".cc", ".h", ".cpp", ".hpp", ".c")
EXEMPT = {"src/base/kernel.h", "src/base/kernel.cc"}


def strip_code(line, in_block):
    """The line without comments and string/char literals; tracks /* */ across lines."""
    out = []
    i = 0
    n = len(line)
    while i < n:
        if in_block:
            end = line.find("*/", i)
            if end < 0:
                return "".join(out), True
            i = end + 2
            in_block = False
            continue
        c = line[i]
        if line.startswith("//", i):
            break
        if line.startswith("/*", i):
            in_block = True
            i += 2
            continue
        if c in "\"'":
            j = i + 1
            while j < n and line[j] != c:
                j += 2 if line[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
            continue
        out.append(c)
        i += 1
    return "".join(out), in_block


def findings_in_text(text):
    """(line number, what, line) for every raw comparison in C++ source text."""
    found = []
    in_block = False
    for no, line in enumerate(text.splitlines(), 1):
        code, in_block = strip_code(line, in_block)
        if PROTOCOL.search(code):
            continue  # the wire protocol's own version, not a kernel release
        for what, rx in PATTERNS:
            if rx.search(code):
                found.append((no, what, line.strip()))
                break
    return found


def self_test():
    must_flag = [
        "if (k.version.atLeast(6, 1)) x();",
        "bool v(int a, int b) const { return k_.version.atLeast(a, b); }",
        "if (kernel.version >= KernelVersion::of(6, 0)) x();",
        "if (KernelVersion::of(5, 10) <= kernel.version) x();",
        "return k.version < min;",
        "if (k.version.major() > 6 || k.version.minor() >= 2) x();",
        "if (6 < kernel.version.major()) x();",
        "const bool old = k.version <=> other < 0;",
        "if (k.version == KernelVersion::of(6, 1)) x();",
        "if (plan.kernel.version > other) x();",
    ]
    must_pass = [
        "if (has(KernelRule::kCmaMultiRange)) x();",
        "k.version = KernelVersion::of(6, 12);",
        "std::optional<KernelVersion> version;",
        "std::string s = k.version.str();  // kernels from 5.7 on: version >= 5.7",
        "log(\"the kernel version < 5.7 is odd\");",
        "std::vector<std::string> kernel_version;",
        "if (p->version) use(a->minor);",
        "std::optional<std::string> kernel_version;  // --kernel",
        "if (h.version != kProtocolVersion) return;",
        "if (version < last_comp) return bad();  // an FDT header's own version",
        "if (hello.version < kMinProtocolVersion) return;",
        "if (k.version == other.version) return;",
        "const unsigned major = m.major(); out.minor = minor();",
    ]
    ok = True
    for line in must_flag:
        if not findings_in_text(line):
            print("self-test: not flagged: " + line)
            ok = False
    for line in must_pass:
        if findings_in_text(line):
            print("self-test: flagged wrongly: " + line)
            ok = False
    return ok


def read_allow(path):
    allowed = set()
    if not os.path.exists(path):
        return allowed
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                allowed.add(line)
    return allowed


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=os.path.dirname(here))
    ap.add_argument("--allow", default=None)
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if not self_test():
        return 1
    if args.self_test:
        print("lint-kernel-rules: self-test ok")
        return 0
    allow = read_allow(args.allow or os.path.join(args.root, "scripts", "kernel-rules-allow.txt"))
    src = os.path.join(args.root, "src")
    if not os.path.isdir(src):
        print("lint-kernel-rules: no src/ under " + args.root, file=sys.stderr)
        return 2
    bad = 0
    allowed_hits = 0
    files_seen = set()
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        for name in sorted(filenames):
            if not name.endswith(SOURCE_EXT):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, args.root).replace(os.sep, "/")
            if rel in EXEMPT:
                continue
            with open(path, encoding="utf-8", errors="replace") as f:
                found = findings_in_text(f.read())
            for no, what, line in found:
                files_seen.add(rel)
                if rel in allow:
                    allowed_hits += 1
                    print("%s:%d: allowed (scripts/kernel-rules-allow.txt): %s: %s" % (rel, no, what, line))
                else:
                    bad += 1
                    print("%s:%d: raw kernel-version comparison (%s): %s" % (rel, no, what, line))
    for rel in sorted(allow - files_seen):
        print("%s: listed in scripts/kernel-rules-allow.txt but has no raw comparison: drop it" % rel)
    if bad:
        print("lint-kernel-rules: %d raw version comparison(s); name the fact as a KernelRule in "
              "src/base/kernel.* and ask it instead" % bad)
        return 1
    print("lint-kernel-rules: ok (%d allowed in %d listed file(s))" % (allowed_hits, len(allow)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
