#!/usr/bin/env python3
"""Runs the tutorial notebooks (docs/notebooks/*.ipynb) the way a Jupyter C++ kernel does.

CTest test `notebooks` (tests/CMakeLists.txt, docs/notebooks.md). Python 3 standard library only.
xeus-cpp (and xeus-cling) send each code cell to the interpreter as ONE input; xeus-cpp's
interpreter is clang's incremental compiler, the one behind clang-repl. So this driver starts one
`clang-repl-19` per notebook with the interpreter flags of an installed modnorm-xcpp17
kernelspec (share/jupyter/kernels/modnorm-xcpp17/kernel.json, which `cmake --install` writes
from xeus-cpp's own xcpp17 kernelspec: xcpp17's flags, then modnorm's include directory and the
library loaded at start by `-Xclang -load`), and feeds it every whole cell, in order, as one
input (`#include "<tmp>/<notebook>.cellNN.cpp"`: clang-repl reads one line per input). The cling
pragmas of the loading cell reach clang-repl unchanged, which ignores them, as xeus-cpp does.
CTest installs against a stand-in xcpp17 (tests/install/xcpp17_standin.cmake) whose include
directory is tests/notebooks/include, so `<xcpp/xdisplay.hpp>` is found only through the
kernelspec's flags, as in xeus-cpp: its `xcpp::display(x)` looks the mime bundle up as xeus-cpp
does and prints the bundle's text/plain, so that expected outputs can be checked, or an error
line when the bundle has no text/html.

Before the notebooks, one more session with the kernelspec's flags evaluates FINAL_EXPRESSIONS,
each as a whole input without ';' (how a cell's last line reaches the interpreter): clang-repl
19 then keeps the value, and needs the destructors of its temporaries, which it may look up in
libmodnorm (the implicit destructor of a defaulted options argument, e.g.
`modnorm::ReportOptions`), so they must be exported.

A notebook fails when: its file is not a stripped nbformat-4 notebook whose metadata names the
installed kernelspec (its name, display_name and language); a cell breaks a rule of
notebook_rules.py; any diagnostic (error or warning), uncaught exception, JIT error or
`Not implement yet.` appears in a cell's output; clang-repl dies (naming the cell it died in,
and the signal), times out, or does not reach the end; or a cell's output lacks one of the
substrings listed in that cell's metadata `{"modnorm": {"expected_output": ["...", ...]}}` (every
notebook lists some; list the numbers a cell prints, so that a wrong number fails).

Usage:
  run_notebooks.py --kernelspec PREFIX/share/jupyter/kernels/modnorm-xcpp17/kernel.json \
      [--clang-repl clang-repl-19] [--timeout 300] [--keep DIR] [-v] NOTEBOOK_OR_DIR...
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import notebook_rules

INSTALL_HINT = "apt-get install clang-tools-19 (scripts/setup installs it)"
KERNEL_ARGV_HEAD = ["xcpp", "-f", "{connection_file}"]
MARKER = "@@modnorm-notebook-cell-end@@"
# One printf with no header needed (clang's builtin), after each input: splits the output.
MARK = '__builtin_printf("\\n%s\\n");' % MARKER
# Lines that mean failure: clang diagnostics ("file:line:col: error: ...", "error: Parsing
# failed."), an uncaught exception, a JIT link failure, clang-repl 19's unsupported value
# printing (a final expression the rules should have refused).
DIAGNOSTIC = re.compile(r"^(\S+:\d+:\d+: )?(fatal error|error|warning): |^terminate called"
                        r"|^JIT session error|^Not implement yet\.", re.MULTILINE)
# Values a cell's last line may produce with modnorm's API and default arguments.
FINAL_EXPRESSIONS_SETUP = [
    "#include <modnorm/modnorm.hpp>",
    "using namespace modnorm;",
    "Generator gen(0);",
    "Module net = Linear(4, 3) >> ReLU() >> Linear(3, 2);",
    "net.initialize(gen);",
    "Tensor G = Tensor::randn({3, 2}, gen);",
]
FINAL_EXPRESSIONS = [
    "report(net)", "orthogonalize(G)", "dualize(G, Norm::spectral)",
    "dual_pairing(G, Norm::spectral)", "norm(G, Norm::spectral)", "net.dualize()",
    "net.norm()", "Optimizer(net)", "G", "net", "Linear(2, 3)", "net.parameters()",
]


class NotebookError(Exception):
    pass


def load_kernelspec(path):
    """The clang-repl arguments that stand for the kernelspec's interpreter flags (every argv
    entry after xcpp's `-f {connection_file}`, each passed on with -Xcc, as xcpp passes them to
    clang), and the kernelspec as a notebook's metadata names it; checks the kernelspec's
    form."""
    try:
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
    except (OSError, ValueError) as e:
        raise NotebookError("cannot read the kernelspec %s: %s" % (path, e))
    argv = spec.get("argv")
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv) or \
            [os.path.basename(a) for a in argv[:1]] + argv[1:3] != KERNEL_ARGV_HEAD:
        raise NotebookError("%s: argv must start with %r, got %r" % (path, KERNEL_ARGV_HEAD, argv))
    if spec.get("language") != "cpp" or not spec.get("display_name"):
        raise NotebookError("%s: needs language 'cpp' and a display_name" % path)
    flags = argv[3:]
    if "-std=c++17" not in flags:
        raise NotebookError("%s: the notebooks are C++17; argv lacks -std=c++17" % path)
    if "-load" not in flags:
        raise NotebookError("%s: argv does not load libmodnorm (-Xclang -load -Xclang LIB)" % path)
    for k, flag in enumerate(flags):
        value = {"-I": k + 1, "-resource-dir": k + 1, "-load": k + 2}.get(flag)
        if value is not None and (value >= len(flags) or not os.path.exists(flags[value])):
            raise NotebookError("%s: %s names no existing path: %r" % (path, flag, flags[k:]))
    name = os.path.basename(os.path.dirname(os.path.abspath(path)))
    metadata = {"name": name, "display_name": spec["display_name"], "language": spec["language"]}
    return [x for flag in flags for x in ("-Xcc", flag)], metadata


def load_notebook(path, kernelspec):
    """The notebook's code cells as (index, source, expected substrings), and the rule
    violations found in them; checks the format, and that the metadata names `kernelspec`."""
    try:
        with open(path, encoding="utf-8") as f:
            nb = json.load(f)
    except (OSError, ValueError) as e:
        raise NotebookError("cannot read %s: %s" % (path, e))
    if nb.get("nbformat") != 4:
        raise NotebookError("nbformat is %r, expected 4" % nb.get("nbformat"))
    meta = nb.get("metadata", {})
    if meta.get("kernelspec") != kernelspec:
        raise NotebookError("metadata.kernelspec is %r, expected the installed kernelspec %r"
                            % (meta.get("kernelspec"), kernelspec))
    if meta.get("language_info", {}).get("name") != "c++":
        raise NotebookError("language_info.name must be 'c++'")
    cells, problems, expected_total = [], [], 0
    for k, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        if cell.get("outputs") or cell.get("execution_count") is not None:
            raise NotebookError("cells[%d] has outputs or an execution count: strip them" % k)
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        expected = cell.get("metadata", {}).get("modnorm", {}).get("expected_output", [])
        expected_total += len(expected)
        problems += notebook_rules.check_cell(k, source, first_code_cell=not cells)
        cells.append((k, source, expected))
    if not cells:
        raise NotebookError("no code cells")
    problems += notebook_rules.check_includes([(k, source) for k, source, _ in cells])
    if expected_total == 0:
        raise NotebookError("no cell lists metadata.modnorm.expected_output: nothing is checked")
    return cells, problems


def run_session(label, command, inputs, args, cwd):
    """Runs clang-repl on `inputs` (one line each, a marker printed after each) and returns its
    output split at the markers and its exit status; stdout is line-buffered (stdbuf), so that
    what a cell printed before a crash is kept."""
    stdin = "".join("%s\n%s\n" % (line, MARK) for line in inputs)
    # Exit from inside the session: when clang-repl returns from main it frees the JIT-compiled
    # code before the destructors of the cells' global objects run, and then crashes.
    stdin += "#include <cstdlib>\nstd::exit(0);\n"
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        with open(os.path.join(args.keep, label + ".input.txt"), "w", encoding="utf-8") as f:
            f.write(" ".join(command) + "\n" + stdin)
    try:
        proc = subprocess.run(["stdbuf", "-oL"] + command, input=stdin, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, universal_newlines=True,
                              timeout=args.timeout, cwd=cwd)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        raise NotebookError("timed out after %d s; output so far:\n%s" % (args.timeout, out))
    return proc.stdout.split(MARKER + "\n"), proc.returncode


def exit_reason(code):
    if code < 0:
        return "killed by %s" % signal.Signals(-code).name
    return "exit status %d" % code


def session_problems(names, segments, code, allowed=None):
    """Problems of a session whose inputs are named by `names` (one output segment each).
    Lines equal to `allowed` are no problem, wherever they appear (clang-repl buffers its own
    output, such as `Not implement yet.`, apart from the cells' stdout)."""
    problems = []
    if allowed:
        segments = [re.sub(r"(?m)^%s\n" % re.escape(allowed), "", s) for s in segments]
    for name, segment in zip(names, segments):
        if DIAGNOSTIC.search(segment):
            problems.append("%s:\n%s" % (name, segment.strip()))
    if len(segments) <= len(names):
        problems.append("clang-repl stopped in %s (%s):\n%s"
                        % (names[len(segments) - 1], exit_reason(code), segments[-1].strip()))
    elif code != 0:
        problems.append("clang-repl ended with %s" % exit_reason(code))
    elif DIAGNOSTIC.search(segments[len(names)]):
        problems.append("after the last input: %s" % segments[len(names)].strip())
    return problems


def check_final_expressions(flags, args):
    """Evaluates FINAL_EXPRESSIONS as values (clang-repl 19 says `Not implement yet.` for
    most, which is fine here); a missing symbol fails."""
    inputs = FINAL_EXPRESSIONS_SETUP + FINAL_EXPRESSIONS
    segments, code = run_session("final_expressions", [args.clang_repl] + flags, inputs, args,
                                 os.getcwd())
    names = ["input %r" % line for line in inputs]
    problems = session_problems(names, segments, code, allowed="Not implement yet.")
    if problems:
        raise NotebookError("\n".join(problems))
    return len(FINAL_EXPRESSIONS)


def run_notebook(path, flags, kernelspec, args):
    name = os.path.splitext(os.path.basename(path))[0]
    cells, problems = load_notebook(path, kernelspec)
    workdir = tempfile.mkdtemp(prefix="modnorm_nb_")
    try:
        inputs = []
        for index, source, _ in cells:
            cell_path = os.path.join(workdir, "%s.cell%02d.cpp" % (name, index))
            with open(cell_path, "w", encoding="utf-8") as f:
                f.write(source + "\n")
            inputs.append('#include "%s"' % cell_path)
        started = time.monotonic()
        segments, code = run_session(name, [args.clang_repl] + flags, inputs, args,
                                     os.path.dirname(os.path.abspath(path)))
        seconds = time.monotonic() - started
        if args.keep:
            for f in os.listdir(workdir):
                shutil.copy(os.path.join(workdir, f), args.keep)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    names = ["cells[%d]" % index for index, _, _ in cells]
    problems += session_problems(names, segments, code)
    for (index, _, expected), segment in zip(cells, segments):
        missing = [part for part in expected if part not in segment]
        if missing:
            problems.append("cells[%d]: output lacks %s; it was:\n%s"
                            % (index, ", ".join(map(repr, missing)), segment.rstrip()))
        if args.verbose:
            print("--- %s cells[%d]\n%s" % (name, index, segment.rstrip()))
    if problems:
        raise NotebookError("\n".join(problems))
    return len(cells), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="+", help="notebooks, or folders of *.ipynb")
    parser.add_argument("--kernelspec", required=True,
                        help="the installed share/jupyter/kernels/modnorm-xcpp17/kernel.json")
    parser.add_argument("--clang-repl", help="the interpreter (default: $MODNORM_CLANG_REPL or "
                        "clang-repl-19)",
                        default=os.environ.get("MODNORM_CLANG_REPL", "clang-repl-19"))
    parser.add_argument("--timeout", type=int, default=300, help="seconds per session")
    parser.add_argument("--keep", help="copy the cells and clang-repl's input here")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every cell's output")
    args = parser.parse_args()

    if shutil.which(args.clang_repl) is None:
        print("run_notebooks: %s not found; install it: %s" % (args.clang_repl, INSTALL_HINT))
        return 1
    notebooks = []
    for p in args.paths:
        if os.path.isdir(p):
            notebooks += sorted(os.path.join(p, f) for f in os.listdir(p) if f.endswith(".ipynb"))
        else:
            notebooks.append(p)
    if not notebooks:
        print("run_notebooks: no notebooks in %s" % " ".join(args.paths))
        return 1
    failed = 0
    try:
        flags, kernelspec = load_kernelspec(args.kernelspec)
        n = check_final_expressions(flags, args)
        print("PASS %s: %d final expressions evaluated" % (args.kernelspec, n))
    except NotebookError as e:
        print("FAIL %s:\n%s" % (args.kernelspec, e))
        return 1
    for path in notebooks:
        try:
            n, seconds = run_notebook(path, flags, kernelspec, args)
            print("PASS %s: %d code cells in %.1f s" % (path, n, seconds))
        except NotebookError as e:
            failed += 1
            print("FAIL %s:\n%s" % (path, e))
        sys.stdout.flush()
    print("%d of %d notebooks passed" % (len(notebooks) - failed, len(notebooks)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
