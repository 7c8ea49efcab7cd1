// Fashion-MNIST loading and normalisation, shuffled mini-batches.
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "modnorm/data.hpp"
#include "modnorm/error.hpp"
#include "modnorm/ops.hpp"

namespace modnorm {
namespace {

bool is_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// `dir/name.gz`, else `dir/name`; the error names the .gz file (the name Debian ships).
std::string find_fashion_file(const std::string& dir, const std::string& name) {
  std::string base = dir.empty() || dir.back() == '/' ? dir + name : dir + "/" + name;
  if (is_file(base + ".gz")) return base + ".gz";
  if (is_file(base)) return base;
  fail("load_fashion_mnist",
       base +
           ".gz: no such file; pass the Fashion-MNIST directory with --data DIR, or "
           "install it with `apt-get install dataset-fashion-mnist`");
}

// In place: x -> (x - mean) / std over every element of a CPU f32 tensor.
void standardize(Tensor& images, double mean, double stddev) {
  float* x = images.data<float>();
  const std::int64_t n = images.numel();
  const double inv = 1.0 / stddev;
  for (std::int64_t i = 0; i < n; ++i)
    x[i] = static_cast<float>((static_cast<double>(x[i]) - mean) * inv);
}

}  // namespace

std::string default_fashion_mnist_dir() {
  return "/usr/share/datasets/fashion-mnist";
}

FashionMnist load_fashion_mnist(const std::string& dir) {
  // Check all four names first, so a missing directory is reported before any reading.
  const std::string train_images = find_fashion_file(dir, "train-images-idx3-ubyte");
  const std::string train_labels = find_fashion_file(dir, "train-labels-idx1-ubyte");
  const std::string test_images = find_fashion_file(dir, "t10k-images-idx3-ubyte");
  const std::string test_labels = find_fashion_file(dir, "t10k-labels-idx1-ubyte");

  FashionMnist out;
  out.train = read_idx(train_images, train_labels);
  out.test = read_idx(test_images, test_labels);
  if (out.train.rows != out.test.rows || out.train.cols != out.test.cols)
    fail("load_fashion_mnist", dir + ": training images are " + std::to_string(out.train.rows) +
                                   " x " + std::to_string(out.train.cols) +
                                   " pixels but test images are " + std::to_string(out.test.rows) +
                                   " x " + std::to_string(out.test.cols));
  if (out.train.size() == 0) fail("load_fashion_mnist", train_images + ": no images");
  // Fashion-MNIST has 10 classes: a label outside [0, 10) is caught here, at load, not at the
  // first batch that draws it.
  for (const auto& [data, path] : {std::pair{&out.train, &train_labels}, {&out.test, &test_labels}})
    for (std::size_t i = 0; i < data->labels.size(); ++i)
      if (data->labels[i] < 0 || data->labels[i] >= 10)
        fail("load_fashion_mnist", *path + ": label " + std::to_string(data->labels[i]) +
                                       " at index " + std::to_string(i) +
                                       " is not a Fashion-MNIST class (0 to 9)");

  // One scalar mean and standard deviation over all training pixels (two passes, in double).
  const float* x = out.train.images.data<float>();
  const std::int64_t n = out.train.images.numel();
  double total = 0.0;
  for (std::int64_t i = 0; i < n; ++i) total += x[i];
  const double mean = total / static_cast<double>(n);
  double squares = 0.0;
  for (std::int64_t i = 0; i < n; ++i) squares += (x[i] - mean) * (x[i] - mean);
  const double stddev = std::sqrt(squares / static_cast<double>(n));
  if (!(stddev > 0.0))
    fail("load_fashion_mnist", train_images + ": every training pixel equals " +
                                   std::to_string(mean) +
                                   "; cannot normalise by a standard deviation of 0");

  standardize(out.train.images, mean, stddev);
  standardize(out.test.images, mean, stddev);
  out.pixel_mean = mean;
  out.pixel_std = stddev;
  return out;
}

// ---- mini-batches
// --------------------------------------------------------------------------------

BatchSampler::BatchSampler(std::int64_t dataset_size, std::int64_t batch_size, Generator& gen,
                           bool drop_last)
    : dataset_size_(dataset_size),
      batch_size_(batch_size),
      drop_last_(drop_last),
      gen_(gen.next_u64()) {
  if (dataset_size < 1)
    fail("BatchSampler", "dataset size must be at least 1, got " + std::to_string(dataset_size));
  if (batch_size < 1)
    fail("BatchSampler", "batch size must be at least 1, got " + std::to_string(batch_size));
  if (drop_last && batch_size > dataset_size)
    fail("BatchSampler", "drop_last with batch size " + std::to_string(batch_size) +
                             " > dataset size " + std::to_string(dataset_size) +
                             " leaves no batch");
}

// Quotient and remainder rather than (size + batch - 1) / batch, which overflows for a batch
// size near the int64 maximum.
std::int64_t BatchSampler::batches_per_epoch() const {
  const std::int64_t full = dataset_size_ / batch_size_;
  return drop_last_ || dataset_size_ % batch_size_ == 0 ? full : full + 1;
}

std::vector<std::vector<std::int64_t>> BatchSampler::next_epoch() {
  // Fisher-Yates (Knuth, TAOCP vol. 2, Algorithm 3.4.2P) from the identity: every permutation
  // has probability 1/n!, and an epoch depends only on the generator's state.
  std::vector<std::int64_t> order(static_cast<std::size_t>(dataset_size_));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  for (std::size_t i = order.size() - 1; i > 0; --i) {
    const auto j = static_cast<std::size_t>(gen_.below(i + 1));
    std::swap(order[i], order[j]);
  }

  const std::int64_t count = batches_per_epoch();
  std::vector<std::vector<std::int64_t>> batches;
  batches.reserve(static_cast<std::size_t>(count));
  for (std::int64_t b = 0; b < count; ++b) {
    const std::int64_t first = b * batch_size_;  // < dataset_size_, so no overflow
    const auto begin = order.begin() + first;
    batches.emplace_back(begin, begin + std::min(batch_size_, dataset_size_ - first));
  }
  ++epochs_drawn_;
  return batches;
}

// The rows and the labels go to the ops as i32 tensors on the images' device.
Batch make_batch(const Dataset& data, const std::vector<std::int64_t>& indices) {
  constexpr std::int64_t kMaxI32 = std::numeric_limits<std::int32_t>::max();
  if (indices.empty()) fail("make_batch", "no indices: a batch needs at least one example");
  if (data.images.rank() != 2 || data.images.dim(0) != data.size())
    fail("make_batch", "images " + data.images.describe() + " should have one row per " +
                           "label (" + std::to_string(data.size()) + " labels)");
  const std::int64_t size = std::min(data.size(), kMaxI32 + 1);  // rows i32 ids can name
  std::vector<std::int32_t> rows(indices.size()), labels(indices.size());
  for (std::size_t k = 0; k < indices.size(); ++k) {
    const std::int64_t i = indices[k];
    if (i < 0 || i >= size)
      fail("make_batch", "index " + std::to_string(i) + " (position " + std::to_string(k) +
                             ") is outside [0, " + std::to_string(size) + ")");
    const std::int64_t label = data.labels[static_cast<std::size_t>(i)];
    if (label < -kMaxI32 - 1 || label > kMaxI32)
      fail("make_batch", "label " + std::to_string(label) + " of example " + std::to_string(i) +
                             " is outside the range of i32");
    rows[k] = static_cast<std::int32_t>(i);
    labels[k] = static_cast<std::int32_t>(label);
  }
  const auto b = static_cast<std::int64_t>(indices.size());
  const Device device = data.images.device();
  Batch out;
  out.x = gather_rows(data.images, Tensor::from_vector_i32(rows, {b}).to(device));
  out.y = Tensor::from_vector_i32(labels, {b}).to(device);
  return out;
}

}  // namespace modnorm
