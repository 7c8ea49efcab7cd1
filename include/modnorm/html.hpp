#pragma once
/// @file html.hpp
/// HTML renderings of tensors and module trees, the `text/html` half of a notebook's rich
/// display (docs/notebooks.md; <modnorm/display.hpp> wraps them in xeus' mime bundles). A Report
/// renders itself: Report::to_html(). Plain strings, no JSON: ordinary programs may use them to
/// write HTML pages too. Every text that comes from user data (module names, descriptions) is
/// HTML-escaped.

#include <string>

#include "modnorm/export.hpp"

namespace modnorm {

class Module;
class Tensor;

/// An HTML fragment describing `tensor`: a header line with its shape, dtype and device, then a
/// preview of its values in a <table class="modnorm-tensor"> (a rank-0 tensor shows its value;
/// a vector is one row; a matrix one table row per matrix row; a rank-3 or rank-4 tensor one
/// matrix per leading index, labelled e.g. `[1, :, :]`). Values print as printf's `%.6g`, like
/// operator<<. Large tensors are elided, NumPy style: along any axis longer than 10 only the
/// first 3 and the last 3 indices are shown, with an ellipsis cell (or row, or label) between,
/// so a preview holds at most 10 entries per axis whatever the tensor's size. Only the shown
/// entries of a CPU tensor are read; a CUDA tensor is first copied to the host. An empty tensor
/// shows "(empty)".
///
/// Throws modnorm::Error if a CUDA tensor cannot be copied to the host.
///
/// Example:
///   auto t = modnorm::Tensor::from_vector({1, 2, 3, 4}, {2, 2});
///   std::string html = modnorm::to_html(t);   // "...[2x2]...f32...cpu...<td>1</td><td>2</td>..."
MODNORM_API std::string to_html(const Tensor& tensor);

/// An HTML <table class="modnorm-module"> with one row per node of the module tree, depth
/// first as operator<< prints it: the dotted path (empty for the root), the description
/// indented by depth ("Linear(784 -&gt; 512)", "ReLU", "Sequential"), the mass, the sensitivity,
/// and for atoms the norm kind and the weight shape. Numbers print as `%.6g`.
///
/// Throws nothing beyond std::bad_alloc.
///
/// Example:
///   auto net = modnorm::Linear(4, 8) >> modnorm::ReLU() >> modnorm::Linear(8, 2);
///   std::string html = modnorm::to_html(net);   // 4 rows: Sequential, 0, 1, 2
MODNORM_API std::string to_html(const Module& module);

}  // namespace modnorm
