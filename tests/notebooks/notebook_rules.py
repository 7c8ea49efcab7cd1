"""The rules a tutorial notebook's code cells follow so that they run the same in xeus-cpp
(clang-repl) and xeus-cling, both of which execute each cell as ONE input (docs/notebooks.md,
"Writing a notebook"). run_notebooks.py checks them before running the cells, because some of
what they prevent shows only in the other kernel, or only as a silently wrong number.

  loading   `#pragma cling` lines stand in a cell of their own (comments allowed), the first
            code cell; add_include_path, add_library_path and load only.
  includes  A cell with an #include holds only preprocessor lines and `using` declarations:
            clang 19 crashes (IncrementalParser::CleanUpPTU) when a cell that includes headers
            also fails to compile, which kills the kernel.
  checked   A header that is not a standard one (its name has a '.' or a '/') is looked for
            with `__has_include` in an earlier cell, which prints what is missing: an #include
            of a missing header fails its cell, and the crash above kills the kernel with the
            message unseen (check_includes, over a whole notebook).
  order     Definitions (functions, types, templates, namespaces, `using`) open a cell, before
            any statement: xeus-cling wraps a cell from its first statement on into a function,
            where a definition is not allowed.
  globals   No namespace-scope `const` or `static` variable: clang-repl 19 constructs such
            internal-linkage variables before the statements above them in the cell, and only
            in the first cell that uses them. Use a plain variable, or `constexpr`.
  ending    A cell ends with ';' or '}': xeus-cpp does not display a final expression, and
            clang-repl 19 fails on most such values. Show a value with `xcpp::display(x);`.
  magics    No `%` or `%%` magics (they differ between the kernels).

Python 3 standard library only.
"""

import re

INCLUDE = re.compile(r"^\s*#\s*include\s*<([^>]+)>", re.MULTILINE)
HAS_INCLUDE = re.compile(r"__has_include\s*\(\s*<([^>]+)>\s*\)")
PRAGMA = re.compile(r'^\s*#\s*pragma\s+cling\s+(\w+)\s*\(\s*"([^"]*)"\s*\)\s*$')
PRAGMA_NAMES = ("add_include_path", "add_library_path", "load")
WORD = re.compile(r"[A-Za-z_]\w*")
TYPE_HEAD = re.compile(r"^(template\s*<.*?>\s*)?(struct|class|union|enum)\b", re.DOTALL)
DEFINITION_HEAD = re.compile(r"^(template\b|namespace\b|using\b|typedef\b)")
FUNCTION_HEAD = re.compile(r"^[^;{}]*\)\s*(const\s*)?(noexcept\s*)?(->[^{;]*)?\{", re.DOTALL)
CONTROL = {"if", "for", "while", "switch", "do", "try", "else", "return"}
INTERNAL_VARIABLE = re.compile(r"^((static|const|inline|volatile)\s+)+[^;=({]*?\b([A-Za-z_]\w*)"
                               r"\s*[={]")


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


def split_statements(code):
    """The top-level statements, declarations and preprocessor lines of a cell, in order, each
    as (masked text, source text): masked with comments and literals blanked, both stripped. A statement ends at a ';' or at the '}' closing
    a function, namespace or control block (not before `else`, `catch` or `while`, nor in a
    struct/class/union/enum definition, which ends at its ';'). A preprocessor line, with its
    continuation lines, is a piece of its own."""
    masked = mask(code)
    pieces, start, depth, i, n = [], 0, 0, 0, len(masked)

    def next_token(k):
        while k < n and masked[k].isspace():
            k += 1
        word = WORD.match(masked, k)
        return word.group(0) if word else masked[k:k + 1]

    def cut(k):
        nonlocal start
        if masked[start:k].strip():
            pieces.append((masked[start:k].strip(), code[start:k].strip()))
        start = k

    while i < n:
        c = masked[i]
        line_start = i == 0 or masked[i - 1] == "\n"
        if line_start and depth == 0 and masked[i:].lstrip(" \t").startswith("#"):
            cut(i)
            e = i
            while True:  # the directive, with its continuation lines
                e = masked.find("\n", e)
                e = n if e < 0 else e
                if e == n or not masked[i:e].rstrip().endswith("\\"):
                    break
                e += 1
            cut(e)
            i = e
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if c == "}" and depth == 0:
                following = next_token(i + 1)
                if following not in (";", ",", ")", "else", "catch", "while") and \
                        not TYPE_HEAD.match(masked[start:i].strip()):
                    cut(i + 1)
        elif c == ";" and depth == 0 and next_token(i + 1) != "else":
            cut(i + 1)
        i += 1
    cut(n)
    return pieces


def is_definition(piece):
    """Whether a top-level piece defines a function, type, template or namespace, or is a
    `using`/typedef declaration (what xeus-cling accepts only before a cell's statements)."""
    if TYPE_HEAD.match(piece) or DEFINITION_HEAD.match(piece):
        return True
    first = WORD.match(piece)
    return piece.endswith("}") and bool(FUNCTION_HEAD.match(piece)) and \
        not (first and first.group(0) in CONTROL)


def internal_variable(piece):
    """The name a namespace-scope `const`/`static` variable definition defines, else None."""
    match = INTERNAL_VARIABLE.match(piece)
    if not match or not piece.endswith(";") or piece.startswith("static_assert"):
        return None
    return match.group(3)


def check_cell(index, source, first_code_cell):
    """The rule violations of one code cell (cells[index] of the notebook), as messages."""
    where = "cells[%d]: " % index
    if source.lstrip().startswith("%"):
        return [where + "magics (%...) differ between the kernels; write C++ only"]
    problems = []
    raw_lines, masked_lines = source.split("\n"), mask(source).split("\n")
    pragmas = [k for k, line in enumerate(masked_lines)
               if line.lstrip().startswith("#") and "pragma" in line]
    if pragmas:
        for k in pragmas:
            match = PRAGMA.match(raw_lines[k])
            if not match or match.group(1) not in PRAGMA_NAMES:
                problems.append(where + "cannot use %r: the loading cell holds only "
                                "#pragma cling %s(\"...\") lines"
                                % (raw_lines[k].strip(), "/".join(PRAGMA_NAMES)))
        if any(line.strip() and k not in pragmas for k, line in enumerate(masked_lines)):
            problems.append(where + "the #pragma cling lines stand in a cell of their own")
        if not first_code_cell:
            problems.append(where + "the #pragma cling cell is the first code cell")
        return problems

    pieces = split_statements(source)
    if any(INCLUDE.match(p) for p, _ in pieces):
        others = [text for p, text in pieces if not p.startswith(("#", "using"))]
        if others:
            problems.append(where + "a cell with #include holds only preprocessor lines and "
                            "`using` declarations (a compile error next to an #include "
                            "crashes clang 19); move %r to the next cell"
                            % others[0].split("\n")[0])
        return problems
    statement_seen = None
    for piece, text in pieces:
        head = text.split("\n")[0]
        if is_definition(piece):
            if statement_seen:
                problems.append(where + "the definition %r follows the statement %r: xeus-cling "
                                "takes definitions only before a cell's statements" %
                                (head, statement_seen))
        elif statement_seen is None:
            statement_seen = head
        name = internal_variable(piece)
        if name:
            problems.append(where + "%r is a namespace-scope const/static variable: clang-repl "
                            "19 may construct it before the statements above it run; drop the "
                            "const (or use constexpr)" % name)
    code = [(p, text) for p, text in pieces if not p.startswith("#")]
    if code and not code[-1][0].endswith((";", "}")):
        problems.append(where + "ends in an expression without ';' (%r): xeus-cpp does not "
                        "display it; write xcpp::display(x); instead"
                        % code[-1][1].split("\n")[-1])
    return problems


def check_includes(cells):
    """The `checked` rule over a notebook's code cells, given as (index, source) in order: the
    #include <...> of a header that is not a standard one, without a `__has_include` of it in
    an earlier cell, as messages."""
    checked, problems = set(), []
    for index, source in cells:
        code = mask(source, blank_literals=False)
        for header in INCLUDE.findall(code):
            if ("." in header or "/" in header) and header not in checked:
                problems.append("cells[%d]: <%s> is included before any cell checks for it: "
                                "look for it with __has_include in an earlier cell and print "
                                "what is missing (a failed #include kills a xeus-cpp kernel "
                                "unseen)" % (index, header))
        checked.update(HAS_INCLUDE.findall(code))
    return problems
