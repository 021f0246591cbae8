#!/usr/bin/env python3
"""No test can hang: every command of a test script that can make a
container runs through `bounded` (tests/lib/bounded.sh: stdio in files, never
a pipe of the test's that the container's init would hold; a deadline).

A line (continuations joined, comments dropped) of a script under tests/ is
flagged when it runs a container runtime -- $PODSHIM, runc, crun, runsc,
ctr, or a variable or array named for podshim ("${SHIM[@]}", "$shim") --
and either names create or run, or forwards "$@" (a wrapper: shim ARGS),
without `bounded`. Double-quoted texts with spaces (descriptions, messages)
and lines that only write text (printf, echo) are not commands. `docker run`/`docker create` is flagged outside
tests/e2e, whose lib.sh makes `docker` itself bounded (checked here too),
unless the line bounds it (bounded, timeout, or the cluster's dn).

A runtime given as an argument to a function whose body runs `bounded ...
"$@"` (capture NAME "$PODSHIM" ...) is bounded; so are the suites' shim,
rc... themselves, being bounded where they name the runtime. A line may say why it needs no
bound: a trailing `# no-hang: REASON`.

  no-hang.py [ROOT]   exit 1, naming file:line, when a line is flagged"""
import os
import re
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
TESTS = os.path.join(ROOT, "tests")

RUNTIME = re.compile(
    r"""(\$\{?(?:PODSHIM|SHIM[A-Z]?|shim[a-z]?)(?:\[@\])?\}?(?![A-Za-z0-9_\[])"""  # $PODSHIM, ${SHIMC[@]}
    r"""|(?<![-/\w.$])(?:runc|crun|runsc|ctr)(?![-/\w.]))""")
# A line that writes text (a wrapper script, a file): no command of its own.
WRITES = re.compile(r"^\s*(?:printf|echo)\b")
SUBCOMMAND = re.compile(r"""(?<![-\w./"'])(?:create|run)(?![-\w./])""")
FORWARD = re.compile(r'''"\$@"''')
DOCKER_RUN = re.compile(r"""(?<![-\w./$])docker\s+(?:[-\w=./]+\s+)*?(?:run|create)(?![-\w./])""")
EXEMPT = re.compile(r"#\s*no-hang:\s*\S")


def drop_texts(code):
    """code with its double-quoted texts (a test's description, a message:
    words with spaces, not starting with $) emptied; quotes paired in order,
    single-quoted strings (eval '...') kept."""
    out, i, n = [], 0, len(code)
    while i < n:
        c = code[i]
        if c == "'":
            j = code.find("'", i + 1)
            j = n - 1 if j < 0 else j
            out.append(code[i:j + 1])
            i = j + 1
        elif c == '"':
            j = i + 1
            while j < n and code[j] != '"':
                j += 2 if code[j] == "\\" else 1
            body = code[i + 1:j]
            text = not body.startswith("$") and re.search(r"\s", body)
            out.append('""' if text else code[i:j + 1])
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def strip_comment(line):
    """The line without its comment (a # outside quotes, at a word start)."""
    quote = None
    prev = " "
    for i, c in enumerate(line):
        if quote:
            if c == "\\" and quote == '"':
                continue
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "#" and prev in " \t;(":
            return line[:i]
        prev = c
    return line


def logical_lines(path):
    """(first line number, text with comments, text without) per line,
    backslash continuations joined."""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        start = i
        raw = lines[i]
        code = strip_comment(raw)
        while code.rstrip().endswith("\\") and i + 1 < len(lines):
            i += 1
            raw += "\n" + lines[i]
            code = code.rstrip()[:-1] + " " + strip_comment(lines[i])
        i += 1
        if raw.lstrip().startswith("#"):
            continue
        yield start + 1, raw, code


FUNC = re.compile(r"^\s*([A-Za-z_][\w-]*)\s*\(\)\s*\{(.*)$")


def bounded_wrappers(paths):
    """The functions (of any test script) that run what they are given
    through bounded, or through such a function: `capture NAME CMD...`,
    `shim ARGS...`, `pm ARGS...` (which calls `in_ns`, which bounds)."""
    bodies = {}
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().split("\n")
        i = 0
        while i < len(lines):
            m = FUNC.match(lines[i])
            i += 1
            if not m:
                continue
            body = [m.group(2)]
            if not m.group(2).rstrip().endswith("}"):
                while i < len(lines) and not re.match(r"^\s*\}\s*$", lines[i]):
                    body.append(lines[i])
                    i += 1
            bodies[m.group(1)] = "\n".join(strip_comment(b) for b in body)
    names = {"bounded"}
    while True:
        pattern = re.compile(r"(?<![$\w-])(?:%s)(?![\w-])[^\n]*\"\$@\"" % "|".join(map(re.escape, sorted(names))))
        more = {n for n, text in bodies.items() if n not in names and pattern.search(text)}
        if not more:
            break
        names |= more
    names.discard("bounded")
    return names


def check_file(path, rel, wrappers):
    bad = []
    in_e2e = rel.startswith("tests/e2e/")
    calls_wrapper = re.compile(r"(?<![$\w-])(?:%s)(?![\w-])" % "|".join(map(re.escape, sorted(wrappers)))) \
        if wrappers else None
    for n, raw, code in logical_lines(path):
        if EXEMPT.search(raw) or "bounded" in code or WRITES.search(code):
            continue
        code = drop_texts(code)
        rt = RUNTIME.search(code)
        if rt and (SUBCOMMAND.search(code) or FORWARD.search(code)):
            # The runtime is an argument of a bounded wrapper: capture X "$PODSHIM" ...
            if calls_wrapper and calls_wrapper.search(code[:rt.start()]):
                continue
            bad.append((n, "runs a container runtime (create/run, or \"$@\") without bounded"))
        elif DOCKER_RUN.search(code) and not in_e2e and not re.search(r"\b(timeout|dn)\b", code):
            bad.append((n, "docker run/create without a bound"))
    return bad


def main():
    problems = []
    scripts = []
    for d, _, names in os.walk(TESTS):
        for name in sorted(names):
            if name.endswith(".sh"):
                scripts.append(os.path.join(d, name))
    wrappers = bounded_wrappers(scripts)
    for path in scripts:
        rel = os.path.relpath(path, ROOT)
        if rel == "tests/lib/bounded.sh":
            continue
        for n, why in check_file(path, rel, wrappers):
            problems.append(f"{rel}:{n}: {why}")
    # The e2e suite's docker is bounded once, in its lib.sh.
    lib = os.path.join(TESTS, "e2e", "lib.sh")
    with open(lib, encoding="utf-8") as f:
        text = f.read()
    if not re.search(r"^docker\(\)\s*\{[^}]*\bbounded\b", text, re.M):
        problems.append("tests/e2e/lib.sh: does not define docker() through bounded")
    if problems:
        print("\n".join(sorted(problems)))
        print(f"no-hang: {len(problems)} line(s) run what can make a container without bounded "
              "(tests/lib/bounded.sh); route them through it, or say why not: # no-hang: REASON")
        sys.exit(1)
    print("no-hang: every create/run of the test scripts is bounded")


if __name__ == "__main__":
    main()
