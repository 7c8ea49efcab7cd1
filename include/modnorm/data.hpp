#pragma once
/// @file data.hpp
/// Image classification data: an IDX reader (the format of MNIST and Fashion-MNIST, plain or
/// gzip-compressed), the Fashion-MNIST loader (docs/training.md), and shuffled mini-batches drawn
/// from a seeded Generator.

#include <cstdint>
#include <string>
#include <vector>

#include "modnorm/export.hpp"
#include "modnorm/generator.hpp"
#include "modnorm/tensor.hpp"

namespace modnorm {

/// A labelled image data set held in memory: one flattened image per row (a batch holds one
/// example per row, README "Conventions").
///
/// - `images`: [size() x rows*cols] f32 on the CPU, row-major pixels of each image;
/// - `labels`: one class index per image (not range-checked by the reader), kept on the host as
///   the data set's storage; make_batch hands a batch's labels to the ops as an i32 tensor;
/// - `rows`, `cols`: the image height and width in pixels (28 x 28 for Fashion-MNIST).
///
/// Example:
///   modnorm::Dataset d = modnorm::read_idx("images-idx3-ubyte.gz", "labels-idx1-ubyte.gz");
///   float first_pixel = d.images.to_vector()[0];   // in [0, 1]
///   std::int64_t label = d.labels[0];
struct Dataset {
  Tensor images;                     ///< [size() x rows*cols] f32
  std::vector<std::int64_t> labels;  ///< size() class indices
  std::int64_t rows = 0;             ///< image height in pixels
  std::int64_t cols = 0;             ///< image width in pixels

  /// Number of examples (the number of labels, equal to images.dim(0)).
  std::int64_t size() const { return static_cast<std::int64_t>(labels.size()); }
};

/// Reads a pair of IDX files: unsigned-byte images (magic 0x00000803, dims n x rows x cols)
/// and unsigned-byte labels (magic 0x00000801, dim n), each gzip-compressed or plain (zlib
/// detects which). Dimensions are big-endian 32-bit integers. Pixels are scaled to [0, 1]
/// (byte / 255); labels are copied as they are (a label is not checked against a number of
/// classes).
///
/// Returns images [n x rows*cols] f32 on the CPU and n labels.
///
/// Throws modnorm::Error, `[read_idx] <path>: <what>`, naming the file, for: a file that cannot
/// be opened; a bad magic number (quoted in hex next to the expected one); a truncated header
/// or truncated data (with the number of bytes expected and read); bytes after the declared
/// data (trailing data is an error: it means the header and the file disagree); corrupt gzip
/// data; zero rows or columns; an image count that differs from the label count (naming
/// both files); and sizes whose f32 images would exceed kMaxTensorBytes (checked before
/// reading the data).
///
/// Example:
///   const std::string dir = modnorm::default_fashion_mnist_dir() + "/";
///   auto train = modnorm::read_idx(dir + "train-images-idx3-ubyte.gz",
///                                  dir + "train-labels-idx1-ubyte.gz");
///   // train.images.shape() == Shape{60000, 784}, train.rows == 28, pixels in [0, 1]
MODNORM_API Dataset read_idx(const std::string& images_path, const std::string& labels_path);

/// Fashion-MNIST (Xiao, Rasul, Vollgraf 2017): 60000 training and 10000 test images of 28 x 28
/// pixels in 10 classes, normalised as load_fashion_mnist() says.
///
/// Example:
///   modnorm::FashionMnist data = modnorm::load_fashion_mnist();
///   std::cout << data.train.size() << " " << data.pixel_mean << "\n";   // 60000 0.286...
struct FashionMnist {
  Dataset train;            ///< 60000 examples
  Dataset test;             ///< 10000 examples
  double pixel_mean = 0.0;  ///< mean of the training pixels in [0, 1], subtracted from both sets
  double pixel_std = 1.0;   ///< their standard deviation, divided out of both sets
};

/// Where Debian's `dataset-fashion-mnist` package puts the data:
/// "/usr/share/datasets/fashion-mnist".
///
/// Example: auto data = modnorm::load_fashion_mnist(modnorm::default_fashion_mnist_dir());
MODNORM_API std::string default_fashion_mnist_dir();

/// Loads Fashion-MNIST from `dir`, which holds train-images-idx3-ubyte, train-labels-idx1-ubyte,
/// t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each with a `.gz` suffix (as Debian ships
/// them) or without one (the `.gz` name is tried first).
///
/// Normalisation: pixels are first scaled to [0, 1] (read_idx), then the training set's mean
/// pixel value m and standard deviation s (one scalar each, over all training pixels, population
/// formula) are computed and x -> (x - m) / s is applied to both the training and the test
/// images, so the training pixels have mean 0 and standard deviation 1 (about m = 0.286,
/// s = 0.353). m and s are returned in pixel_mean and pixel_std.
///
/// Shapes: train.images [60000 x 784], test.images [10000 x 784], f32 on the CPU.
///
/// Throws modnorm::Error: `[load_fashion_mnist] <file>: no such file; ...` naming the first
/// missing file and suggesting `--data DIR` or `apt-get install dataset-fashion-mnist`; any
/// read_idx() error; a label outside the 10 classes (naming the file and the index); train and
/// test images of different sizes; constant training images.
///
/// Example:
///   auto data = modnorm::load_fashion_mnist();            // or load_fashion_mnist("/my/dir")
///   auto batch = data.train.images;                        // [60000 x 784], mean ~0, std ~1
MODNORM_API FashionMnist load_fashion_mnist(const std::string& dir = default_fashion_mnist_dir());

/// Shuffled mini-batches of the indices 0 .. dataset_size-1: each call to next_epoch() draws a
/// fresh uniformly random permutation (Fisher-Yates) and cuts it into consecutive batches of
/// batch_size indices. The last batch holds the dataset_size % batch_size remaining indices,
/// or is dropped when `drop_last` is true (default false), so every batch then has exactly
/// batch_size indices.
///
/// Randomness: the constructor draws one 64-bit seed from `gen` and the sampler owns the
/// generator it seeds (so it keeps no reference to `gen`, and using `gen` afterwards does not
/// change the batch order). The same seed of `gen` gives the same sequence of epochs.
///
/// Throws modnorm::Error (`[BatchSampler] ...`) when dataset_size < 1, batch_size < 1, or
/// drop_last is set with batch_size > dataset_size (no batch at all).
///
/// Example:
///   modnorm::Generator gen(42);
///   modnorm::BatchSampler sampler(data.train.size(), 128, gen);
///   for (int epoch = 0; epoch < 10; ++epoch)
///     for (const auto& ids : sampler.next_epoch()) {
///       modnorm::Batch b = modnorm::make_batch(data.train, ids);   // b.x [128 x 784]
///     }
class MODNORM_API BatchSampler {
 public:
  /// See the class comment.
  BatchSampler(std::int64_t dataset_size, std::int64_t batch_size, Generator& gen,
               bool drop_last = false);

  /// The batches of the next epoch, in order: a fresh permutation of 0 .. dataset_size-1 cut
  /// into batches_per_epoch() index lists.
  std::vector<std::vector<std::int64_t>> next_epoch();

  /// ceil(dataset_size / batch_size), or floor(...) with drop_last.
  std::int64_t batches_per_epoch() const;
  /// Number of next_epoch() calls so far.
  std::int64_t epochs_drawn() const { return epochs_drawn_; }
  std::int64_t dataset_size() const { return dataset_size_; }
  std::int64_t batch_size() const { return batch_size_; }
  bool drop_last() const { return drop_last_; }

 private:
  std::int64_t dataset_size_;
  std::int64_t batch_size_;
  bool drop_last_;
  Generator gen_;
  std::int64_t epochs_drawn_ = 0;
};

/// One mini-batch: inputs x [b x rows*cols] (rows of the data set's images, same dtype and
/// device) and their b labels, an i32 tensor [b] on the same device (what
/// softmax_cross_entropy takes).
///
/// Example: modnorm::Batch b = modnorm::make_batch(data.train, {0, 5, 7});   // b.x [3 x 784]
struct Batch {
  Tensor x;  ///< [b x features]
  Tensor y;  ///< [b] i32 labels
};

/// Gathers the examples `indices` of `data` (in that order; repeats allowed) into a Batch,
/// using gather_rows on data.images.
///
/// Throws modnorm::Error (`[make_batch] ...`) when `indices` is empty, an index is outside
/// [0, data.size()), a label is outside the range of i32, or the images do not have one row per
/// label.
///
/// Example:
///   auto batch = modnorm::make_batch(data.test, {0, 1, 2, 3});
///   // batch.x.shape() == Shape{4, 784}, batch.y.to_vector_f64() == {9, 2, 1, 1}
MODNORM_API Batch make_batch(const Dataset& data, const std::vector<std::int64_t>& indices);

}  // namespace modnorm
