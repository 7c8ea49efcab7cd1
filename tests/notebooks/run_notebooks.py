#!/usr/bin/env python3
"""Runs the tutorial notebooks (docs/notebooks/*.ipynb) through clang-repl-19, cell by cell.

CTest test `notebooks` (tests/CMakeLists.txt); the notebooks are written for the xeus-cling
kernel (xcpp17) and an installed modnorm, and this driver runs the same cells against the build
tree, the way docs/notebooks.md describes. Python 3 standard library only.

Per notebook, one clang-repl process (one kernel session) gets, on its standard input:

  1. a prelude: line-buffered stdout, and `notebook_driver::display(x)`, which prints
     `mime_bundle_repr(x)["text/plain"]` (found by argument-dependent lookup, as xeus-cling
     does) and checks that the bundle holds a non-empty "text/html"; types without a bundle
     print through operator<<;
  2. for every code cell, in order: the translation of its cling pragmas, then its top-level
     statements and declarations, one input each (see split_statements: clang-repl 19 would
     otherwise construct a cell's `const` globals before the statements above them ran; a
     `const` global is also used right after its definition, see const_variable), each
     as a line `#include "<tmp>/<notebook>.cellNN.MM.cpp"` (clang-repl reads one line per
     input, so multi-line code, comments and preprocessor lines go through a file, padded so
     that diagnostics quote the cell's own line numbers), then a marker line printed to
     stdout, which splits the output by cell;
  3. `std::exit(0)` from inside the session, so that the cells' global objects are destroyed
     while the JIT-compiled code still exists (clang-repl 19 tears the JIT down before running
     them when it returns from main, and then crashes once a `%lib` was loaded).

Translations (cling -> clang-repl):
  #pragma cling add_include_path("P")  -> the build tree's --include-dirs, as -Xcc -I
                                          arguments (clang-repl takes include paths at start-up
                                          only; the notebook's P names an install prefix)
  #pragma cling add_library_path("P")  -> P joins the search path of `load`
  #pragma cling load("libmodnorm")     -> %lib <--library>, the built libmodnorm.so
  #pragma cling load("libX")           -> %lib <dir>/libX.so from the search path
  a final expression without ';'       -> notebook_driver::display((expression));
                                          (xeus-cling shows that value as a mime bundle)
Cling pragmas must open their cell (before any code). Cell magics (%%...) are refused.

A notebook fails when: its file is not a stripped nbformat-4 notebook with the xcpp kernelspec;
clang-repl is missing; any diagnostic (error or warning) or `Not implement yet.` (clang-repl's
unsupported value printing) appears; the process dies, times out, or does not reach the last
cell; or a cell's output lacks one of the substrings listed in that cell's metadata
`{"modnorm": {"expected_output": ["...", ...]}}` (every notebook needs at least one).

Usage:
  run_notebooks.py --library BUILD/lib/libmodnorm.so --include-dirs "SRC/include" \
      [--defines "MODNORM_WITH_CUDA=0"] [--clang-repl clang-repl-19] [--timeout 300] \
      [--keep DIR] [-v] NOTEBOOK_OR_DIR...
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

INSTALL_HINT = "apt-get install clang-tools-19 (scripts/setup installs it)"
KERNELSPEC = {"name": "xcpp17", "display_name": "C++17", "language": "C++17"}
STANDARD = {"xcpp11": "c++11", "xcpp14": "c++14", "xcpp17": "c++17"}
MARKER = "@@modnorm-notebook-cell-end@@"

PRELUDE = r"""#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <type_traits>
#include <utility>
// Line-buffered stdout: what a cell printed before a crash is not lost.
std::setvbuf(stdout, nullptr, _IOLBF, 0);
namespace notebook_driver {
template <class T, class = void>
struct has_mime_bundle_repr : std::false_type {};
template <class T>
struct has_mime_bundle_repr<T, std::void_t<decltype(mime_bundle_repr(std::declval<const T&>()))>>
    : std::true_type {};
// What xeus-cling does with a cell's final expression, printed as text.
template <class T>
void display(const T& value) {
  if constexpr (has_mime_bundle_repr<T>::value) {
    const auto bundle = mime_bundle_repr(value);
    if (!bundle.contains("text/html") || bundle.at("text/html").template get<std::string>().empty())
      std::cout << "error: notebook_driver: the mime bundle has no text/html\n";
    std::cout << bundle.at("text/plain").template get<std::string>() << "\n";
  } else {
    std::cout << value << "\n";
  }
}
}  // namespace notebook_driver
"""

PRAGMA = re.compile(r'^\s*#\s*pragma\s+cling\s+(\w+)\s*\(\s*"([^"]*)"\s*\)\s*$')
# Lines that mean failure: clang diagnostics ("file:line:col: error: ...", "error: Parsing
# failed."), an uncaught exception, clang-repl 19's unsupported value printing.
DIAGNOSTIC = re.compile(r"^(\S+:\d+:\d+: )?(fatal error|error|warning): |^terminate called"
                        r"|^JIT session error|^Not implement yet\.", re.MULTILINE)


class NotebookError(Exception):
    pass


def mask(code, blank_literals=True):
    """`code` with comments (and, with blank_literals, the contents of string and character
    literals) replaced by spaces; same length, newlines kept, so offsets and lines still match.
    (Raw string literals are not recognised.)"""
    out, i, n = list(code), 0, len(code)
    while i < n:
        if code.startswith("//", i):
            j = code.find("\n", i)
            j = n if j < 0 else j
        elif code.startswith("/*", i):
            j = code.find("*/", i + 2)
            j = n if j < 0 else j + 2
        elif code[i] in "\"'":
            j = i + 1
            while j < n and code[j] != code[i] and code[j] != "\n":
                j += 2 if code[j] == "\\" else 1
            if blank_literals:
                for k in range(i + 1, min(j, n)):
                    out[k] = " "
            i = j + 1
            continue
        else:
            i += 1
            continue
        for k in range(i, j):
            if out[k] != "\n":
                out[k] = " "
        i = j
    return "".join(out)


WORD = re.compile(r"[A-Za-z_]\w*")
TYPE_HEAD = re.compile(r"^(template\s*<.*?>\s*)?(struct|class|union|enum)\b", re.DOTALL)


def split_statements(code):
    """The top-level statements and declarations of a cell, as (offset, text) in order.

    clang-repl 19 runs the dynamic initialisers of internal-linkage variables (e.g. a
    namespace-scope `const Tensor x = ...`) of one input before everything else in that input,
    so a cell fed as one input could read a variable before it is constructed; fed one
    statement per input, a cell runs in the order it is written, as in xeus-cling. A statement
    ends at a ';' or at the '}' closing a function, namespace or control block (not before
    `else`, `catch` or `while`, nor in a struct/class/union/enum definition, which ends at its
    ';'). A preprocessor line is a statement of its own; #if ... #endif stays together."""
    masked = mask(code)
    pieces, start, depth, i, n = [], 0, 0, 0, len(code)
    conditional = 0  # nesting of #if blocks being kept in one piece

    def next_token(k):
        while k < n and masked[k].isspace():
            k += 1
        word = WORD.match(masked, k)
        return word.group(0) if word else masked[k:k + 1]

    def cut(k):
        nonlocal start
        if masked[start:k].strip():
            pieces.append((start, code[start:k]))
        start = k

    while i < n:
        c = masked[i]
        line_start = i == 0 or masked[i - 1] == "\n"
        if line_start and masked[i:].lstrip(" \t").startswith("#") and depth == 0:
            j = i
            while True:  # the directive, with its continuation lines
                e = masked.find("\n", j)
                e = n if e < 0 else e
                if not masked[j:e].rstrip().endswith("\\") or e == n:
                    break
                j = e + 1
            directive = masked[i:e].strip()[1:].strip()
            if conditional == 0 and masked[start:i].strip():
                cut(i)
            if re.match(r"if(n?def)?\b", directive):
                conditional += 1
            elif directive.startswith("endif") and conditional > 0:
                conditional -= 1
            i = e
            if conditional == 0:
                cut(e)
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if c == "}" and depth == 0 and conditional == 0:
                following = next_token(i + 1)
                if following not in (";", ",", ")", "else", "catch", "while") and \
                        not TYPE_HEAD.match(masked[start:i].strip()):
                    cut(i + 1)
        elif c == ";" and depth == 0 and conditional == 0 and next_token(i + 1) != "else":
            cut(i + 1)
        i += 1
    cut(n)
    return pieces


CONST_VARIABLE = re.compile(r"^const\b[^;=({]*?\b([A-Za-z_]\w*)\s*[={]")


def const_variable(text):
    """The name a namespace-scope `const T name = ...;` (or `{...}`) statement defines, else
    None. Such a variable has internal linkage, and clang-repl 19 emits it, and runs its
    initialiser, only in the first input that uses it (so `const double start = loss;` would
    see the loss of a later cell); the driver uses it right after its definition instead."""
    bare = mask(text).strip()
    match = CONST_VARIABLE.match(bare)
    return match.group(1) if match and bare.endswith(";") else None


def display_statement(text):
    """A final expression without ';' becomes a display call (xeus-cling shows its value as a
    mime bundle); anything else is returned unchanged."""
    bare = mask(text, blank_literals=False).strip()
    if not bare or bare.startswith("#") or bare[-1] in ";}":
        return text
    return "notebook_driver::display((%s));" % " ".join(bare.split("\n"))


def load_notebook(path):
    """The notebook's code cells as (index, source, expected substrings); checks the format."""
    try:
        with open(path, encoding="utf-8") as f:
            nb = json.load(f)
    except (OSError, ValueError) as e:
        raise NotebookError("cannot read %s: %s" % (path, e))
    if nb.get("nbformat") != 4:
        raise NotebookError("nbformat is %r, expected 4" % nb.get("nbformat"))
    meta = nb.get("metadata", {})
    if meta.get("kernelspec") != KERNELSPEC:
        raise NotebookError("kernelspec is %r, expected %r"
                            % (meta.get("kernelspec"), KERNELSPEC))
    if meta.get("language_info", {}).get("name") != "c++":
        raise NotebookError("language_info.name must be 'c++'")
    cells, expected_total = [], 0
    for k, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        if cell.get("outputs") or cell.get("execution_count") is not None:
            raise NotebookError("cells[%d] has outputs or an execution count: strip them" % k)
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        expected = cell.get("metadata", {}).get("modnorm", {}).get("expected_output", [])
        expected_total += len(expected)
        cells.append((k, source, expected))
    if not cells:
        raise NotebookError("no code cells")
    if expected_total == 0:
        raise NotebookError("no cell lists metadata.modnorm.expected_output: nothing is checked")
    return nb, cells


def find_library(name, search_dirs, library):
    """The file `#pragma cling load(name)` means: the built library for its own name, else
    name.so (or name) in the first of search_dirs holding one."""
    if os.path.basename(library).startswith(name + "."):
        return library
    for d in search_dirs:
        for candidate in (name + ".so", name):
            path = os.path.join(d, candidate)
            if os.path.isfile(path):
                return os.path.abspath(path)
    raise NotebookError('#pragma cling load("%s"): not found in %s' % (name, search_dirs))


def translate(name, cells, library, workdir):
    """clang-repl's input for the cells; writes the prelude and the statements to workdir."""
    search_dirs = [os.path.dirname(library)]
    lines = ["#include \"%s\"" % os.path.join(workdir, "prelude.hpp")]
    with open(os.path.join(workdir, "prelude.hpp"), "w", encoding="utf-8") as f:
        f.write(PRELUDE)
    for index, source, _ in cells:
        if source.lstrip().startswith("%%"):
            raise NotebookError("cells[%d]: cell magics (%%%%...) run only in xeus-cling" % index)
        code_lines, in_code = [], False
        for line in source.split("\n"):
            match = PRAGMA.match(line)
            if match:
                if in_code:
                    raise NotebookError("cells[%d]: put '#pragma cling' lines before any code"
                                        % index)
                what, arg = match.groups()
                if what == "add_include_path":
                    pass  # the build tree's include directories are clang-repl arguments
                elif what == "add_library_path":
                    search_dirs.append(arg)
                elif what == "load":
                    lines.append("%%lib %s" % find_library(arg, search_dirs, library))
                else:
                    raise NotebookError("cells[%d]: unknown '#pragma cling %s'" % (index, what))
                code_lines.append("")  # keep line numbers of diagnostics
                continue
            if "pragma cling" in line:
                raise NotebookError("cells[%d]: cannot parse %r" % (index, line.strip()))
            if mask(line).strip():
                in_code = True
            code_lines.append(line)
        cell = "\n".join(code_lines)
        statements = split_statements(cell)
        for k, (offset, text) in enumerate(statements):
            if k + 1 == len(statements):
                text = display_statement(text)
            # Padding keeps diagnostics at the cell's own lines and columns.
            column = offset - (cell.rfind("\n", 0, offset) + 1)
            path = os.path.join(workdir, "%s.cell%02d.%02d.cpp" % (name, index, k))
            with open(path, "w", encoding="utf-8") as f:
                f.write("\n" * cell.count("\n", 0, offset) + " " * column + text + "\n")
            lines.append("#include \"%s\"" % path)
            variable = const_variable(text)
            if variable:
                lines.append("(void)&%s;" % variable)
        lines.append('std::printf("\\n%s\\n"); std::fflush(nullptr);' % MARKER)
    lines.append("std::exit(0);")
    return "\n".join(lines) + "\n"


def run_notebook(path, args):
    name = os.path.splitext(os.path.basename(path))[0]
    nb, cells = load_notebook(path)
    standard = STANDARD.get(nb["metadata"]["kernelspec"]["name"], "c++17")
    command = [args.clang_repl, "-Xcc", "-std=" + standard]
    for d in filter(None, args.include_dirs.split(";")):
        command += ["-Xcc", "-I" + os.path.abspath(d)]
    for d in filter(None, args.defines.split(";")):
        command += ["-Xcc", "-D" + d]
    workdir = tempfile.mkdtemp(prefix="modnorm_nb_")
    try:
        stdin = translate(name, cells, os.path.abspath(args.library), workdir)
        with open(os.path.join(workdir, name + ".input.txt"), "w", encoding="utf-8") as f:
            f.write(stdin)  # what clang-repl reads (kept with --keep, for replaying by hand)
        started = time.monotonic()
        try:
            proc = subprocess.run(command, input=stdin, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, universal_newlines=True,
                                  timeout=args.timeout, cwd=os.path.dirname(os.path.abspath(path)))
            output, code = proc.stdout, proc.returncode
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            raise NotebookError("timed out after %d s; output so far:\n%s" % (args.timeout, out))
        seconds = time.monotonic() - started
    finally:
        if args.keep:
            os.makedirs(args.keep, exist_ok=True)
            for f in os.listdir(workdir):
                shutil.copy(os.path.join(workdir, f), args.keep)
        shutil.rmtree(workdir, ignore_errors=True)

    segments = output.split(MARKER + "\n")
    problems = []
    for (index, source, expected), segment in zip(cells, segments):
        if DIAGNOSTIC.search(segment):
            problems.append("cells[%d]:\n%s" % (index, segment.strip()))
        for part in expected:
            if part not in segment:
                problems.append("cells[%d]: output lacks %r; it was:\n%s" % (index, part, segment))
        if args.verbose:
            print("--- %s cells[%d]\n%s" % (name, index, segment.rstrip()))
    if len(segments) <= len(cells):
        stopped = cells[len(segments) - 1][0]
        problems.append("clang-repl stopped in cells[%d] (exit status %d):\n%s"
                        % (stopped, code, segments[-1]))
    elif code != 0:
        problems.append("clang-repl exited with status %d" % code)
    tail = segments[len(cells)] if len(segments) > len(cells) else ""
    if DIAGNOSTIC.search(tail):
        problems.append("after the last cell: %s" % tail.strip())
    if problems:
        raise NotebookError("\n".join(problems))
    return len(cells), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="+", help="notebooks, or folders of *.ipynb")
    parser.add_argument("--library", required=True, help="the built libmodnorm.so")
    parser.add_argument("--include-dirs", required=True, help="';'-separated include dirs")
    parser.add_argument("--defines", default="", help="';'-separated NAME=VALUE definitions")
    parser.add_argument("--clang-repl", help="the interpreter (default: $MODNORM_CLANG_REPL or "
                        "clang-repl-19)",
                        default=os.environ.get("MODNORM_CLANG_REPL", "clang-repl-19"))
    parser.add_argument("--timeout", type=int, default=300, help="seconds per notebook")
    parser.add_argument("--keep", help="copy the translated cells and clang-repl's input here")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every cell's output")
    args = parser.parse_args()

    if shutil.which(args.clang_repl) is None:
        print("run_notebooks: %s not found; install it: %s" % (args.clang_repl, INSTALL_HINT))
        return 1
    if not os.path.isfile(args.library):
        print("run_notebooks: library %s not found (build the modnorm target)" % args.library)
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
    for path in notebooks:
        try:
            n, seconds = run_notebook(path, args)
            print("PASS %s: %d code cells in %.1f s" % (path, n, seconds))
        except NotebookError as e:
            failed += 1
            print("FAIL %s:\n%s" % (path, e))
        sys.stdout.flush()
    print("%d of %d notebooks passed" % (len(notebooks) - failed, len(notebooks)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
