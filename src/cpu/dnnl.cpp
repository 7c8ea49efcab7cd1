// The conv2d ops' three convolutions of f32 NHWC images on oneDNN
// (https://github.com/uxlfoundation/oneDNN), the engine PyTorch runs torch.nn.Conv2d on CPUs with.
// Images and their gradients stay NHWC as they are; the weight, dense in the module's layout
// (ConvWeightStrides: per tap or flattened), is reordered into the blocked layout the chosen kernel
// asks for (format_tag::any) and scaled by alpha on the way; the weight gradient comes back by the
// reverse reorder, scaled by alpha and added to dw (an output scale and a sum post-op). Padding is
// symmetric, as in PyTorch (padding_r = padding_l).
#include <oneapi/dnnl/dnnl.hpp>
#include <string>

#include "cpu/cpu_backend.hpp"
#include "modnorm/error.hpp"

namespace modnorm::detail {
namespace {

using dnnl::memory;
constexpr memory::data_type kF32 = memory::data_type::f32;

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// One convolution's problem in oneDNN's terms: images [n, c, h, w] stored NHWC, the weight
// [c_out, c_in, k, k] in any layout (for the primitive) and in the module's (for the reorder).
struct Problem {
  memory::desc images, weight_any, weight_dense, outputs;
  memory::dims strides, padding;
};

Problem problem(const WindowGeometry& g, std::int64_t c_out, const ConvWeightStrides& layout) {
  const memory::dims weight{c_out, g.c, g.kernel, g.kernel};
  return {memory::desc({g.n, g.c, g.h, g.w}, kF32, memory::format_tag::nhwc),
          memory::desc(weight, kF32, memory::format_tag::any),
          memory::desc(weight, kF32, memory::dims{layout.out, layout.in, layout.row, layout.col}),
          memory::desc({g.n, c_out, g.ho, g.wo}, kF32, memory::format_tag::nhwc),
          {g.stride, g.stride},
          {g.padding, g.padding}};
}

dnnl::convolution_forward::primitive_desc forward_pd(const Problem& p) {
  return {{dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, p.images,
           p.weight_any, p.outputs, p.strides, p.padding, p.padding},
          cpu_engine()};
}

// The backward convolution `Primitive` (convolution_backward_data or _weights) of the problem,
// with the forward's primitive descriptor as the hint oneDNN asks for.
template <class Primitive>
typename Primitive::primitive_desc backward_pd(const Problem& p) {
  return {{dnnl::algorithm::convolution_direct, p.images, p.weight_any, p.outputs, p.strides,
           p.padding, p.padding},
          cpu_engine(),
          forward_pd(p)};
}

// A tensor's storage as oneDNN memory (oneDNN only reads the inputs it is given).
memory memory_of(const memory::desc& desc, const Tensor& t) {
  return memory(desc, cpu_engine(), const_cast<void*>(t.raw()));
}

// to = alpha from (+ to, when accumulating), through a reorder between their layouts.
void reorder(memory from, memory to, double alpha, bool accumulate, dnnl::stream& stream) {
  dnnl::primitive_attr attr;
  if (alpha != 1.0) attr.set_output_scales(0, {static_cast<float>(alpha)});
  if (accumulate) {
    dnnl::post_ops sum;
    sum.append_sum(1.0f);
    attr.set_post_ops(sum);
  }
  dnnl::reorder(from, to, attr).execute(stream, from, to);
}

// alpha w in the layout `packed` of the chosen kernel.
memory packed_weight(const memory::desc& packed, const Problem& p, const Tensor& w, double alpha,
                     dnnl::stream& stream) {
  memory out(packed, cpu_engine());
  reorder(memory_of(p.weight_dense, w), out, alpha, false, stream);
  return out;
}

// Runs fn(problem, stream) and waits for it; oneDNN's errors become modnorm::Error naming the
// call and the shapes.
template <class Fn>
void run(const char* call, const WindowGeometry& g, std::int64_t c_out,
         const ConvWeightStrides& layout, Fn&& fn) {
  try {
    dnnl::stream stream(cpu_engine());
    fn(problem(g, c_out, layout), stream);
    stream.wait();
  } catch (const dnnl::error& e) {
    fail("conv2d",
         std::string("oneDNN ") + call + " of images " + to_string(Shape{g.n, g.h, g.w, g.c}) +
             " to " + to_string(Shape{g.n, g.ho, g.wo, c_out}) + " (" + std::to_string(g.kernel) +
             "x" + std::to_string(g.kernel) + " kernel, stride " + std::to_string(g.stride) +
             ", padding " + std::to_string(g.padding) + ") failed: " + e.what());
  }
}

}  // namespace

bool CpuBackend::has_conv2d(DType dtype) const {
  return dtype == DType::f32;
}

void CpuBackend::conv2d(double alpha, const Tensor& x, const Tensor& w,
                        const ConvWeightStrides& layout, const WindowGeometry& g, Tensor& y) {
  run("convolution_forward", g, y.dim(3), layout, [&](const Problem& p, dnnl::stream& stream) {
    const auto pd = forward_pd(p);
    const memory weight = packed_weight(pd.weights_desc(), p, w, alpha, stream);
    dnnl::convolution_forward(pd).execute(stream, {{DNNL_ARG_SRC, memory_of(p.images, x)},
                                                   {DNNL_ARG_WEIGHTS, weight},
                                                   {DNNL_ARG_DST, memory_of(p.outputs, y)}});
  });
}

void CpuBackend::conv2d_backward_data(double alpha, const Tensor& dy, const Tensor& w,
                                      const ConvWeightStrides& layout, const WindowGeometry& g,
                                      Tensor& dx) {
  run("convolution_backward_data", g, dy.dim(3), layout,
      [&](const Problem& p, dnnl::stream& stream) {
        const auto pd = backward_pd<dnnl::convolution_backward_data>(p);
        const memory weight = packed_weight(pd.weights_desc(), p, w, alpha, stream);
        dnnl::convolution_backward_data(pd).execute(stream,
                                                    {{DNNL_ARG_DIFF_DST, memory_of(p.outputs, dy)},
                                                     {DNNL_ARG_WEIGHTS, weight},
                                                     {DNNL_ARG_DIFF_SRC, memory_of(p.images, dx)}});
      });
}

void CpuBackend::conv2d_backward_weights(double alpha, const Tensor& x, const Tensor& dy,
                                         const ConvWeightStrides& layout, const WindowGeometry& g,
                                         Tensor& dw) {
  run("convolution_backward_weights", g, dy.dim(3), layout,
      [&](const Problem& p, dnnl::stream& stream) {
        const auto pd = backward_pd<dnnl::convolution_backward_weights>(p);
        memory packed(pd.diff_weights_desc(), cpu_engine());
        dnnl::convolution_backward_weights(pd).execute(
            stream, {{DNNL_ARG_SRC, memory_of(p.images, x)},
                     {DNNL_ARG_DIFF_DST, memory_of(p.outputs, dy)},
                     {DNNL_ARG_DIFF_WEIGHTS, packed}});
        reorder(packed, memory_of(p.weight_dense, dw), alpha, true, stream);
      });
}

}  // namespace modnorm::detail
