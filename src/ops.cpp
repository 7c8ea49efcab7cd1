// The public operation set: each function checks its inputs once, then calls one backend
// primitive on the inputs' device (backend.hpp).
#include "modnorm/ops.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "backend.hpp"
#include "modnorm/error.hpp"
#include "tensor_checks.hpp"

namespace modnorm {
namespace {

using detail::check_matrix;

// The operations compute on floating-point values: an i32 tensor (integer ids) is refused by
// name, never read as floats.
void check_float(const char* op, const Tensor& t) {
  if (t.dtype() == DType::i32)
    fail(op, "expects a floating-point tensor (f32, bf16 or f64), got " + t.describe() +
                 " (i32 holds integer ids; convert with .to(DType::f32) to compute with them)");
}

void check_compatible(const char* op, const Tensor& a, const Tensor& b) {
  check_float(op, a);
  check_float(op, b);
  if (a.device() != b.device())
    fail(op, "devices differ: " + a.describe() + " and " + b.describe());
  if (a.dtype() != b.dtype()) fail(op, "dtypes differ: " + a.describe() + " and " + b.describe());
}

void check_same_shape(const char* op, const Tensor& a, const Tensor& b) {
  check_compatible(op, a, b);
  if (a.shape() != b.shape())
    fail(op, "shapes differ: " + to_string(a.shape()) + " and " + to_string(b.shape()));
}

// A new tensor for the result of `op`, with the dtype and device of `like`. A shape too large
// for one tensor (an outer product or a broadcast can make one from small inputs) is refused
// naming `op`.
Tensor output(const char* op, Shape shape, const Tensor& like) {
  checked_numel(shape, op, itemsize(like.dtype()));
  return Tensor::empty(std::move(shape), like.dtype(), like.device());
}

int normalize_axis(const char* op, const Tensor& x, int axis) {
  const int r = x.rank();
  if (r == 0 || axis < -r || axis >= r)
    fail(op, "axis " + std::to_string(axis) + " out of range for " + x.describe());
  return axis < 0 ? axis + r : axis;
}

Tensor reduce_axis(const char* op, detail::Reduce kind, const Tensor& x, int axis) {
  check_float(op, x);
  const int a = normalize_axis(op, x, axis);
  const bool needs_elements = kind == detail::Reduce::mean || kind == detail::Reduce::max;
  if (needs_elements && x.dim(a) == 0)
    fail(op, "axis " + std::to_string(axis) + " of " + x.describe() + " is empty");
  Shape shape = x.shape();
  shape.erase(shape.begin() + a);
  Tensor out = output(op, shape, x);
  detail::backend_of(x).reduce(kind, x, a, out);
  return out;
}

// Whole-tensor reductions answer in double, so they run on an f64 copy (no rounding to f32/bf16).
double reduce_all(const char* op, detail::Reduce kind, const Tensor& x) {
  check_float(op, x);
  return reduce_axis(op, kind, x.to(DType::f64).reshape({x.numel()}), 0).item();
}

Tensor map(const char* op, detail::Unary kind, const Tensor& x) {
  check_float(op, x);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  detail::backend_of(x).unary(kind, x, out);
  return out;
}

Tensor map_backward(const char* op, detail::Unary kind, const Tensor& x, const Tensor& dy) {
  check_same_shape(op, x, dy);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  detail::backend_of(x).unary_backward(kind, x, dy, out);
  return out;
}

// NumPy broadcasting: shapes align at the trailing axis; on each axis the sizes agree, or one
// is 1 (or missing) and stretches to the other.
Shape broadcast_shape(const char* op, const Tensor& a, const Tensor& b) {
  check_compatible(op, a, b);
  if (a.shape() == b.shape()) return a.shape();
  const int rank = std::max(a.rank(), b.rank());
  Shape out(static_cast<std::size_t>(rank));
  for (int k = 1; k <= rank; ++k) {
    const std::int64_t da = k <= a.rank() ? a.dim(-k) : 1;
    const std::int64_t db = k <= b.rank() ? b.dim(-k) : 1;
    if (da != db && da != 1 && db != 1)
      fail(op, "shapes differ: " + to_string(a.shape()) + " and " + to_string(b.shape()) +
                   " do not broadcast (" + std::to_string(da) + " vs " + std::to_string(db) +
                   " at axis " + std::to_string(-k) + ")");
    out[static_cast<std::size_t>(rank - k)] = da == 1 ? db : da;
  }
  return out;
}

Tensor combine(const char* op, detail::Binary kind, const Tensor& a, const Tensor& b) {
  Tensor out = output(op, broadcast_shape(op, a, b), a);
  detail::backend_of(a).binary(kind, a, b, out);
  return out;
}

std::string product_shapes(const Tensor& a, bool ta, const Tensor& b, bool tb) {
  return to_string(a.shape()) + (ta ? "^T" : "") + " x " + to_string(b.shape()) + (tb ? "^T" : "");
}

// The shape [..., M, N] of op(a) op(b) after checking that a and b are two matrices, or two
// batches of matrices of equal rank (3 or 4) and equal leading dimensions, on one device with
// one dtype, and that the inner dimensions agree.
Shape product_shape(const char* op, const Tensor& a, bool ta, const Tensor& b, bool tb) {
  for (const Tensor* t : {&a, &b})
    if (t->rank() < 2)
      fail(op,
           "expects matrices (rank 2) or batches of matrices (rank 3 or 4), got " + t->describe());
  check_compatible(op, a, b);
  if (a.rank() != b.rank())
    fail(op, "ranks differ: " + product_shapes(a, ta, b, tb) +
                 " (a batched product takes two batches of equal shape [..., M, K] x [..., K, N]; "
                 "reshape [B, T, K] to [B*T, K] to multiply every row by one matrix)");
  const Shape batch(a.shape().begin(), a.shape().end() - 2);
  if (!std::equal(batch.begin(), batch.end(), b.shape().begin()))
    fail(op, "batch dimensions differ: " + product_shapes(a, ta, b, tb));
  if (a.dim(ta ? -2 : -1) != b.dim(tb ? -1 : -2))
    fail(op, "inner dimensions differ: " + product_shapes(a, ta, b, tb));
  Shape out = batch;
  out.push_back(a.dim(ta ? -1 : -2));
  out.push_back(b.dim(tb ? -2 : -1));
  return out;
}

// The ids (or labels: `noun`) of an indexing op: i32, on the device of the data they index.
void check_ids(const char* op, const char* noun, const Tensor& ids, const Tensor& data) {
  if (ids.dtype() != DType::i32)
    fail(op, std::string(noun) + "s must be i32, got " + ids.describe() +
                 "; convert with to(DType::i32)");
  if (ids.device() != data.device())
    fail(op, std::string(noun) + "s " + ids.describe() + " are not on the device of " +
                 data.describe());
}

// Throws when the backend found an id outside [0, bound) at position `bad` (>= 0), naming it:
// that one element is read back, from wherever the ids live.
void check_found(const char* op, const char* noun, const Tensor& ids, std::int64_t bad,
                 std::int64_t bound, const std::string& what) {
  if (bad < 0) return;
  std::int32_t id = 0;
  detail::backend_of(ids).copy_to_host(static_cast<const std::int32_t*>(ids.raw()) + bad, &id,
                                       sizeof id);
  fail(op, std::string(noun) + " " + std::to_string(id) + " at position " + std::to_string(bad) +
               " is outside [0, " + std::to_string(bound) + ") " + what);
}

// "window 3 (stride 1, padding 1)", for messages.
std::string describe(const Window2D& window) {
  return "window " + std::to_string(window.kernel) + " (stride " + std::to_string(window.stride) +
         ", padding " + std::to_string(window.padding) + ")";
}

// The geometry of `window` over images of shape `image`, checked: rank 4, kernel and stride
// >= 1, padding >= 0, and a window that fits in the padded image.
detail::WindowGeometry window_geometry(const char* op, const Shape& image, const Window2D& window,
                                       const std::string& what) {
  const std::string given = describe(window);
  if (image.size() != 4) fail(op, "expects NHWC images [N, H, W, C] (rank 4), got " + what);
  constexpr std::int64_t kMax = std::int64_t{1} << 20;  // keeps h + 2 padding far from overflow
  if (window.kernel < 1 || window.stride < 1 || window.padding < 0 || window.kernel > kMax ||
      window.stride > kMax || window.padding > kMax)
    fail(op, given + ": kernel and stride must be in [1, 2^20] and padding in [0, 2^20]");
  const std::int64_t h = image[1], w = image[2];
  if (h + 2 * window.padding < window.kernel || w + 2 * window.padding < window.kernel)
    fail(op, given + " does not fit in the " + std::to_string(h) + "x" + std::to_string(w) +
                 " image of " + what);
  return detail::window_geometry(image, window.kernel, window.stride, window.padding);
}

Shape windows_shape(const detail::WindowGeometry& g) {
  return {g.n, g.ho, g.wo, g.kernel * g.kernel * g.c};
}

// A convolution's weight (conv2d): its output channels and the strides of its layout.
struct ConvWeight {
  std::int64_t c_out;
  detail::ConvWeightStrides layout;
};

// Checks that w (or dw) is a weight of either layout for the g.c input channels and g.kernel^2
// taps of g, of the dtype and device of `like`.
ConvWeight conv_weight(const char* op, const Tensor& w, const Tensor& like,
                       const detail::WindowGeometry& g, const Window2D& window) {
  check_compatible(op, like, w);
  const std::int64_t k = g.kernel, taps = k * k, c = g.c;
  if (c > 0 && w.rank() == 3 && w.dim(0) == taps && w.dim(2) == c && w.dim(1) > 0)
    return {w.dim(1), {c, 1, k * w.dim(1) * c, w.dim(1) * c}};
  if (c > 0 && w.rank() == 2 && w.dim(0) > 0 && w.dim(1) % taps == 0 && w.dim(1) / taps == c)
    return {w.dim(0), {w.dim(1), 1, k * c, c}};
  // taps * c in double: a huge window over many channels must not overflow the message.
  const double columns = static_cast<double>(taps) * static_cast<double>(c);
  char flat[32];
  std::snprintf(flat, sizeof flat, "%.17g", columns);
  fail(op, "weight " + w.describe() + " does not fit " + std::to_string(c) +
               " input channels and " + describe(window) + ": expected [" + std::to_string(taps) +
               ", C_out, " + std::to_string(c) + "] or [C_out, " + flat +
               "] with C_in and C_out >= 1");
}

// The dy of a convolution over g with c_out output channels: [n, ho, wo, c_out], of like's
// dtype and device.
void check_conv_grad(const char* op, const Tensor& dy, const Tensor& like,
                     const detail::WindowGeometry& g, std::int64_t c_out) {
  check_compatible(op, like, dy);
  const Shape expected{g.n, g.ho, g.wo, c_out};
  if (dy.shape() != expected)
    fail(op, "gradient " + dy.describe() + " does not match the convolution's output " +
                 to_string(expected));
}

// The weight as one matrix [c_out x k*k*c_in] in im2col's column order: per tap, the taps'
// matrices side by side.
Tensor weight_matrix(const Tensor& w, const ConvWeight& cw) {
  if (w.rank() == 2) return w;
  return permute(w, {1, 0, 2}).reshape({cw.c_out, w.dim(0) * w.dim(2)});
}

}  // namespace

void gemm(double alpha, const Tensor& a, bool transpose_a, const Tensor& b, bool transpose_b,
          double beta, Tensor& out) {
  const Shape expected = product_shape("gemm", a, transpose_a, b, transpose_b);
  check_compatible("gemm", a, out);
  if (out.shape() != expected)
    fail("gemm", "output " + to_string(out.shape()) + " does not match the product " +
                     product_shapes(a, transpose_a, b, transpose_b) + " = " + to_string(expected));
  detail::backend_of(a).gemm(alpha, a, transpose_a, b, transpose_b, beta, out);
}

Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b) {
  Tensor out = output("matmul", product_shape("matmul", a, transpose_a, b, transpose_b), a);
  detail::backend_of(a).gemm(1.0, a, transpose_a, b, transpose_b, 0.0, out);
  return out;
}

double dot(const Tensor& a, const Tensor& b) {
  check_same_shape("dot", a, b);
  return detail::backend_of(a).dot(a, b);
}

Tensor add(const Tensor& a, const Tensor& b) {
  return combine("add", detail::Binary::add, a, b);
}
Tensor sub(const Tensor& a, const Tensor& b) {
  return combine("sub", detail::Binary::sub, a, b);
}
Tensor mul(const Tensor& a, const Tensor& b) {
  return combine("mul", detail::Binary::mul, a, b);
}
Tensor div(const Tensor& a, const Tensor& b) {
  return combine("div", detail::Binary::div, a, b);
}

Tensor scale(const Tensor& a, double s) {
  check_float("scale", a);
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  detail::backend_of(a).axpy(s, a, 0.0, out);  // beta 0: out's content is never read
  return out;
}

void axpy(double alpha, const Tensor& x, Tensor& y, double beta) {
  check_same_shape("axpy", x, y);
  detail::backend_of(x).axpy(alpha, x, beta, y);
}

void fill(Tensor& x, double value) {
  check_float("fill", x);
  detail::backend_of(x).fill(x, value);
}

Tensor relu(const Tensor& x) {
  return map("relu", detail::Unary::relu, x);
}
Tensor gelu(const Tensor& x) {
  return map("gelu", detail::Unary::gelu, x);
}
Tensor abs(const Tensor& x) {
  return map("abs", detail::Unary::abs, x);
}
Tensor sign(const Tensor& x) {
  return map("sign", detail::Unary::sign, x);
}
Tensor sqrt(const Tensor& x) {
  return map("sqrt", detail::Unary::sqrt, x);
}

Tensor exp(const Tensor& x) {
  return map("exp", detail::Unary::exp, x);
}
Tensor log(const Tensor& x) {
  return map("log", detail::Unary::log, x);
}

Tensor relu_backward(const Tensor& x, const Tensor& dy) {
  return map_backward("relu_backward", detail::Unary::relu, x, dy);
}
Tensor gelu_backward(const Tensor& x, const Tensor& dy) {
  return map_backward("gelu_backward", detail::Unary::gelu, x, dy);
}
Tensor abs_backward(const Tensor& x, const Tensor& dy) {
  return map_backward("abs_backward", detail::Unary::abs, x, dy);
}

Tensor exp_backward(const Tensor& x, const Tensor& dy) {
  return map_backward("exp_backward", detail::Unary::exp, x, dy);
}
Tensor log_backward(const Tensor& x, const Tensor& dy) {
  return map_backward("log_backward", detail::Unary::log, x, dy);
}

Tensor tanh(const Tensor& x) {
  check_float("tanh", x);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  detail::backend_of(x).tanh(x, out);
  return out;
}
Tensor tanh_backward(const Tensor& x, const Tensor& dy) {
  check_same_shape("tanh_backward", x, dy);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  detail::backend_of(x).tanh_backward(x, dy, out);
  return out;
}

bool all_finite(const Tensor& x) {
  return all_finite(std::vector<Tensor>{x});
}

bool all_finite(const std::vector<Tensor>& xs) {
  for (const Tensor& x : xs) check_float("all_finite", x);
  // One backend call per device: one wait for each.
  for (const Device device : {Device::cpu, Device::cuda}) {
    std::vector<Tensor> on_device;
    for (const Tensor& x : xs)
      if (x.device() == device) on_device.push_back(x);
    if (!on_device.empty() && !detail::backend(device, "all_finite").all_finite(on_device))
      return false;
  }
  return true;
}

double frobenius_norm(const Tensor& x) {
  check_float("frobenius_norm", x);
  return std::sqrt(dot(x, x));
}

double max_abs(const Tensor& x) {
  return reduce_all("max_abs", detail::Reduce::max_abs, x);
}

Tensor row_norms(const Tensor& x) {
  check_matrix("row_norms", x);
  return reduce_axis("row_norms", detail::Reduce::l2, x, 1);
}

Tensor col_norms(const Tensor& x) {
  check_matrix("col_norms", x);
  return reduce_axis("col_norms", detail::Reduce::l2, x, 0);
}

Tensor sum(const Tensor& x, int axis) {
  return reduce_axis("sum", detail::Reduce::sum, x, axis);
}
Tensor mean(const Tensor& x, int axis) {
  return reduce_axis("mean", detail::Reduce::mean, x, axis);
}
Tensor max(const Tensor& x, int axis) {
  return reduce_axis("max", detail::Reduce::max, x, axis);
}
double sum(const Tensor& x) {
  return reduce_all("sum", detail::Reduce::sum, x);
}
double mean(const Tensor& x) {
  return reduce_all("mean", detail::Reduce::mean, x);
}
double max(const Tensor& x) {
  return reduce_all("max", detail::Reduce::max, x);
}

Tensor transpose(const Tensor& x) {
  check_float("transpose", x);
  check_matrix("transpose", x);
  Tensor out = Tensor::empty({x.dim(1), x.dim(0)}, x.dtype(), x.device());
  detail::backend_of(x).transpose(x, out);
  return out;
}

Tensor softmax(const Tensor& x) {
  check_float("softmax", x);
  if (x.rank() == 0) fail("softmax", "needs an axis to normalise along, got " + x.describe());
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  detail::backend_of(x).softmax(x, out);
  return out;
}

Tensor softmax_backward(const Tensor& y, const Tensor& dy) {
  check_same_shape("softmax_backward", y, dy);
  if (y.rank() == 0)
    fail("softmax_backward", "needs an axis to normalise along, got " + y.describe());
  Tensor out = Tensor::empty(y.shape(), y.dtype(), y.device());
  detail::backend_of(y).softmax_backward(y, dy, out);
  return out;
}

Tensor tril(const Tensor& x, double fill) {
  check_float("tril", x);
  if (x.rank() < 2)
    fail("tril", "expects a matrix or a batch of matrices (rank 2 to 4), got " + x.describe());
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  detail::backend_of(x).tril(x, fill, out);
  return out;
}

Tensor permute(const Tensor& x, const std::vector<int>& axes) {
  check_float("permute", x);
  const int rank = x.rank();
  std::string given = "[";
  for (std::size_t i = 0; i < axes.size(); ++i) given += (i ? ", " : "") + std::to_string(axes[i]);
  given += "]";
  if (static_cast<int>(axes.size()) != rank)
    fail("permute", "axes " + given + " should list each of the " + std::to_string(rank) +
                        " axes of " + x.describe() + " once");
  std::vector<int> normalized(axes.size());
  std::vector<bool> seen(axes.size(), false);
  for (std::size_t i = 0; i < axes.size(); ++i) {
    const int axis = axes[i];
    if (axis < -rank || axis >= rank)
      fail("permute", "axis " + std::to_string(axis) + " in " + given + " is out of range for " +
                          x.describe());
    normalized[i] = axis < 0 ? axis + rank : axis;
    if (seen[static_cast<std::size_t>(normalized[i])])
      fail("permute", "axes " + given + " name axis " + std::to_string(normalized[i]) +
                          " twice; they must be a permutation of 0 .. " + std::to_string(rank - 1));
    seen[static_cast<std::size_t>(normalized[i])] = true;
  }
  Shape shape(axes.size());
  for (std::size_t i = 0; i < axes.size(); ++i) shape[i] = x.dim(normalized[i]);
  Tensor out = Tensor::empty(std::move(shape), x.dtype(), x.device());
  detail::backend_of(x).permute(x, normalized, out);
  return out;
}

Tensor im2col(const Tensor& x, const Window2D& window) {
  check_float("im2col", x);
  const detail::WindowGeometry g = window_geometry("im2col", x.shape(), window, x.describe());
  Tensor out = output("im2col", windows_shape(g), x);
  detail::backend_of(x).im2col(x, g, out);
  return out;
}

Tensor col2im(const Tensor& cols, const Shape& image, const Window2D& window) {
  check_float("col2im", cols);
  const detail::WindowGeometry g =
      window_geometry("col2im", image, window, "image " + to_string(image));
  if (cols.shape() != windows_shape(g))
    fail("col2im", "windows " + cols.describe() + " do not match the image " + to_string(image) +
                       ": " + describe(window) + " gives " + to_string(windows_shape(g)));
  Tensor out = output("col2im", image, cols);
  detail::backend_of(cols).col2im(cols, g, out);
  return out;
}

// conv2d and its backwards (docs/theory.md, "Convolutions"): on the backend's own convolution
// where it has one for the dtype (oneDNN, f32 on the CPU), else as im2col and one GEMM: with
// the windows as rows, X [N*Ho*Wo x k*k*c_in], and the weight as the matrix Wm
// [c_out x k*k*c_in], y = alpha X Wm^T, dWm = alpha dy^T X and dX = alpha dy Wm, dx = col2im(dX).
Tensor conv2d(const Tensor& x, const Tensor& w, const Window2D& window, double alpha) {
  check_float("conv2d", x);
  const detail::WindowGeometry g = window_geometry("conv2d", x.shape(), window, x.describe());
  const ConvWeight cw = conv_weight("conv2d", w, x, g, window);
  detail::Backend& engine = detail::backend_of(x);
  if (engine.has_conv2d(x.dtype())) {
    Tensor y = output("conv2d", {g.n, g.ho, g.wo, cw.c_out}, x);
    engine.conv2d(alpha, x, w, cw.layout, g, y);
    return y;
  }
  const Tensor cols = im2col(x, window);
  const Tensor rows = cols.reshape({g.n * g.ho * g.wo, cols.dim(3)});
  Tensor y = output("conv2d", {rows.dim(0), cw.c_out}, x);
  gemm(alpha, rows, false, weight_matrix(w, cw), true, 0.0, y);  // alpha X Wm^T
  return y.reshape({g.n, g.ho, g.wo, cw.c_out});
}

Tensor conv2d_backward_data(const Tensor& dy, const Tensor& w, const Shape& image,
                            const Window2D& window, double alpha) {
  constexpr const char* op = "conv2d_backward_data";
  check_float(op, dy);
  const detail::WindowGeometry g = window_geometry(op, image, window, "image " + to_string(image));
  const ConvWeight cw = conv_weight(op, w, dy, g, window);
  check_conv_grad(op, dy, w, g, cw.c_out);
  detail::Backend& engine = detail::backend_of(dy);
  if (engine.has_conv2d(dy.dtype())) {
    Tensor dx = output(op, image, dy);
    engine.conv2d_backward_data(alpha, dy, w, cw.layout, g, dx);
    return dx;
  }
  const Shape cols = windows_shape(g);
  Tensor d_rows = output(op, {g.n * g.ho * g.wo, cols[3]}, dy);
  gemm(alpha, dy.reshape({d_rows.dim(0), cw.c_out}), false, weight_matrix(w, cw), false, 0.0,
       d_rows);  // dX = alpha dy Wm
  return col2im(d_rows.reshape(cols), image, window);
}

void conv2d_backward_weights(const Tensor& x, const Tensor& dy, const Window2D& window, Tensor& dw,
                             double alpha) {
  constexpr const char* op = "conv2d_backward_weights";
  check_float(op, x);
  const detail::WindowGeometry g = window_geometry(op, x.shape(), window, x.describe());
  const ConvWeight cw = conv_weight(op, dw, x, g, window);
  check_conv_grad(op, dy, x, g, cw.c_out);
  detail::Backend& engine = detail::backend_of(x);
  if (engine.has_conv2d(x.dtype())) {
    engine.conv2d_backward_weights(alpha, x, dy, cw.layout, g, dw);
    return;
  }
  const Tensor cols = im2col(x, window);
  const Tensor rows = cols.reshape({g.n * g.ho * g.wo, cols.dim(3)});
  const Tensor dy2 = dy.reshape({rows.dim(0), cw.c_out});
  if (dw.rank() == 2) {
    gemm(alpha, dy2, true, rows, false, 1.0, dw);  // dWm += alpha dy^T X
    return;
  }
  // dWm [c_out, k*k, c_in] back to the per-tap [k*k, c_out, c_in].
  const Tensor d_matrix = matmul(dy2, rows, true, false);
  axpy(alpha, permute(d_matrix.reshape({cw.c_out, dw.dim(0), dw.dim(2)}), {1, 0, 2}), dw);
}

namespace {

// gather_rows (rows) or gather_cols: the ids index the table's rows or its columns.
Tensor gather(const char* op, const Tensor& table, const Tensor& ids, bool rows) {
  check_float(op, table);
  check_matrix(op, table);
  check_ids(op, "id", ids, table);
  const std::int64_t bound = table.dim(rows ? 0 : 1);
  Tensor out =
      output(op, rows ? Shape{ids.numel(), table.dim(1)} : Shape{table.dim(0), ids.numel()}, table);
  const std::int64_t bad = detail::backend_of(table).gather(table, ids, rows, out);
  check_found(op, "id", ids, bad, bound,
              (rows ? "(rows of " : "(columns of ") + table.describe() + ")");
  return out;
}

// scatter_add_rows (rows) or scatter_add_cols.
void scatter_add(const char* op, Tensor& dst, const Tensor& ids, const Tensor& src, bool rows) {
  check_matrix(op, dst);
  check_matrix(op, src);
  check_compatible(op, dst, src);
  check_ids(op, "id", ids, dst);
  const Shape expected = rows ? Shape{ids.numel(), dst.dim(1)} : Shape{dst.dim(0), ids.numel()};
  if (src.shape() != expected)
    fail(op, "source " + to_string(src.shape()) + " should be " + to_string(expected) + " for " +
                 std::to_string(ids.numel()) + " ids into " + dst.describe());
  const std::int64_t bad = detail::backend_of(dst).scatter_add(dst, ids, rows, src);
  check_found(op, "id", ids, bad, dst.dim(rows ? 0 : 1),
              (rows ? "(rows of " : "(columns of ") + dst.describe() + ")");
}

}  // namespace

Tensor gather_rows(const Tensor& table, const Tensor& ids) {
  return gather("gather_rows", table, ids, true);
}

Tensor gather_cols(const Tensor& table, const Tensor& ids) {
  return gather("gather_cols", table, ids, false);
}

void scatter_add_rows(Tensor& dst, const Tensor& ids, const Tensor& src) {
  scatter_add("scatter_add_rows", dst, ids, src, true);
}

void scatter_add_cols(Tensor& dst, const Tensor& ids, const Tensor& src) {
  scatter_add("scatter_add_cols", dst, ids, src, false);
}

CrossEntropy softmax_cross_entropy(const Tensor& logits, const Tensor& labels) {
  constexpr const char* op = "softmax_cross_entropy";
  check_float(op, logits);
  check_matrix(op, logits);
  if (logits.dim(0) == 0 || logits.dim(1) == 0)
    fail(op, "needs at least one example and one class, got " + logits.describe());
  check_ids(op, "label", labels, logits);
  if (labels.numel() != logits.dim(0))
    fail(op, std::to_string(labels.numel()) + " labels " + labels.describe() + " for " +
                 std::to_string(logits.dim(0)) + " rows of logits " + logits.describe());
  CrossEntropy result{0.0, Tensor::empty(logits.shape(), logits.dtype(), logits.device())};
  const std::int64_t bad =
      detail::backend_of(logits).cross_entropy(logits, labels, result.grad, result.loss);
  check_found(op, "label", labels, bad, logits.dim(1), "(class labels)");
  return result;
}

}  // namespace modnorm
