"""CTest test `notebook_rules`: each rule of notebook_rules.py refuses what it should and accepts
the shapes the notebooks use (python3 -m unittest, from tests/notebooks)."""

import unittest

from notebook_rules import check_cell, check_includes, split_statements

LOADING = '// where modnorm is\n#pragma cling add_include_path("/opt/modnorm/include")\n' \
          '#pragma cling load("libmodnorm")\n'


def problems(source, first=False):
    return check_cell(7, source, first_code_cell=first)


class NotebookRules(unittest.TestCase):
    def assert_refused(self, source, words, first=False):
        found = problems(source, first)
        self.assertEqual(len(found), 1, found)
        self.assertTrue(found[0].startswith("cells[7]: "), found)
        self.assertIn(words, found[0])

    def test_accepts_the_notebook_shapes(self):
        for source in [
                LOADING,
                "#include <cmath>\n#include <modnorm/modnorm.hpp>\nusing namespace modnorm;\n",
                "template <class... A>\nvoid print(const char* f, const A&... a) {\n}\n"
                "print(\"x %d\\n\", 1);\n",
                "double f(double x, int k = 2) { return x * k; }\nstruct Band { double lo; };\n"
                "for (double x : {0.1, 0.2}) print(\"%g\", f(x));\nif (true) {\n} else {\n}\n",
                "Tensor G = Tensor::from_vector({1, 2}, {1, 2});\nxcpp::display(G);\n",
                "constexpr int checkpoints[] = {0, 10};\nstatic_assert(sizeof(int) == 4);\n",
                "for (int i = 0; i < 3; ++i) {\n  const double y = i;\n}\n",
                "#if !__has_include(<modnorm/modnorm.hpp>)\nstd::cout << \"MISSING\";\n#endif\n"]:
            self.assertEqual(problems(source, first=source is LOADING), [], source)

    def test_loading_cell(self):
        self.assert_refused(LOADING, "the first code cell")
        self.assert_refused(LOADING + "int x = 1;\n", "a cell of their own", first=True)
        self.assert_refused('#pragma cling add_path("/x")\n', "cannot use", first=True)

    def test_includes_stand_alone(self):
        self.assert_refused('#include <string>\nprint("x");\n', "move 'print(\"x\");'")

    def test_headers_checked_before_they_are_included(self):
        check = "#if !__has_include(<modnorm/modnorm.hpp>)\nstd::cout << \"MISSING\";\n#endif\n"
        include = "#include <cmath>\n#include <modnorm/modnorm.hpp>\n"
        self.assertEqual(check_includes([(3, check), (4, include)]), [])
        for cells in ([(4, include)], [(4, include), (5, check)],
                      [(3, "// __has_include(<modnorm/modnorm.hpp>)\n"), (4, include)]):
            found = check_includes(cells)
            self.assertEqual(len(found), 1, found)
            self.assertTrue(found[0].startswith("cells[4]: <modnorm/modnorm.hpp> is included "
                                                "before any cell checks for it"), found)

    def test_definitions_before_statements(self):
        self.assert_refused("int n = 1;\ndouble twice(double x) {\n  return 2 * x;\n}\n",
                            "the definition 'double twice(double x) {' follows")
        self.assert_refused("print(\"a\");\nstruct Band {\n  double lo;\n};\n",
                            "the definition 'struct Band {' follows")

    def test_no_internal_linkage_globals(self):
        self.assert_refused("Generator gen(0);\nconst Tensor x = Tensor::randn({2}, gen);\n",
                            "'x' is a namespace-scope const/static variable")
        self.assert_refused("static std::vector<int> v{1, 2};\n", "'v' is a namespace-scope")

    def test_ends_with_a_statement(self):
        self.assert_refused("Tensor G = Tensor::eye(2);\nG\n", "ends in an expression without ';'")
        self.assert_refused("report(net)  // shows the table?\n", "(\'report(net)  //")

    def test_magics(self):
        self.assert_refused("%%timeit\nint x = 1;\n", "magics")

    def test_split_keeps_statements_whole(self):
        pieces = [text for _, text in split_statements(
            "if (a) {\n} else {\n}\nstruct S {\n};\n#define X \\\n  1\nf(\"; }\");\n")]
        self.assertEqual(pieces, ["if (a) {\n} else {\n}", "struct S {\n};",
                                  "#define X \\\n  1", "f(\"; }\");"])


if __name__ == "__main__":
    unittest.main()
