// IDX files (plain and gzip), the Fashion-MNIST loader and shuffled mini-batches.
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "modnorm/data.hpp"
#include "support.hpp"

using namespace modnorm;
namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<unsigned char>;

using modnorm::test::TempDir;

void put_be32(Bytes& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<unsigned char>(v >> shift));
}

void put_le32(Bytes& out, std::uint32_t v) {
  for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<unsigned char>(v >> shift));
}

// An IDX file: magic, big-endian dims, then `body`.
Bytes idx_file(std::uint32_t magic, const std::vector<std::uint32_t>& dims, const Bytes& body) {
  Bytes out;
  put_be32(out, magic);
  for (auto d : dims) put_be32(out, d);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Bytes images_idx(std::uint32_t n, std::uint32_t rows, std::uint32_t cols, const Bytes& pixels) {
  return idx_file(0x00000803, {n, rows, cols}, pixels);
}

Bytes labels_idx(const Bytes& labels) {
  return idx_file(0x00000801, {static_cast<std::uint32_t>(labels.size())}, labels);
}

// CRC-32 (ISO 3309, reflected polynomial 0xEDB88320) as gzip's trailer needs it.
std::uint32_t crc32(const Bytes& data) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char byte : data) {
    crc ^= byte;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

// A gzip member (RFC 1952) whose deflate stream (RFC 1951) is made of stored blocks: valid
// gzip that any reader must inflate. (The tests do not link zlib; the library does.)
Bytes gzip(const Bytes& data) {
  Bytes out = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
  std::size_t pos = 0;
  do {
    const std::size_t len = std::min<std::size_t>(65535, data.size() - pos);
    const bool last = pos + len == data.size();
    out.push_back(last ? 1 : 0);  // BFINAL, BTYPE = 00 (stored)
    out.push_back(static_cast<unsigned char>(len));
    out.push_back(static_cast<unsigned char>(len >> 8));
    out.push_back(static_cast<unsigned char>(~len));
    out.push_back(static_cast<unsigned char>(~len >> 8));
    out.insert(out.end(), data.begin() + pos, data.begin() + pos + len);
    pos += len;
  } while (pos < data.size());
  put_le32(out, crc32(data));
  put_le32(out, static_cast<std::uint32_t>(data.size()));
  return out;
}

void write_file(const std::string& path, const Bytes& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  BOOST_REQUIRE(f.good());
}

using modnorm::test::expect_error;

// 3 images of 2 x 4 pixels covering 0 and 255, and their labels.
const Bytes kPixels = {0,  255, 1,  2,  3,   4,   5,   6,   10,  20,  30, 40,
                       50, 60,  70, 80, 128, 127, 254, 253, 100, 101, 0,  255};
const Bytes kLabels = {2, 0, 7};

void check_small_dataset(const Dataset& d) {
  BOOST_TEST(d.size() == 3);
  BOOST_TEST(d.rows == 2);
  BOOST_TEST(d.cols == 4);
  BOOST_TEST((d.images.shape() == Shape{3, 8}));
  BOOST_TEST(d.images.dtype() == DType::f32);
  BOOST_TEST(d.images.device() == Device::cpu);
  const auto x = d.images.to_vector();
  for (std::size_t i = 0; i < kPixels.size(); ++i) BOOST_TEST(x[i] == kPixels[i] / 255.0f);
  BOOST_TEST(x[0] == 0.0f);
  BOOST_TEST(x[1] == 1.0f);
  BOOST_TEST((d.labels == std::vector<std::int64_t>{2, 0, 7}));
}

boost::test_tools::assertion_result fashion_mnist_installed(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result found(fs::is_directory(default_fashion_mnist_dir()));
  found.message() << "no Fashion-MNIST in " << default_fashion_mnist_dir()
                  << " (apt-get install dataset-fashion-mnist)";
  return found;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(idx)

// ---- reading ------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(plain_and_gzip_files_read_back_the_same_scaled_pixels_and_labels) {
  TempDir dir;
  write_file(dir.file("img"), images_idx(3, 2, 4, kPixels));
  write_file(dir.file("lbl"), labels_idx(kLabels));
  write_file(dir.file("img.gz"), gzip(images_idx(3, 2, 4, kPixels)));
  write_file(dir.file("lbl.gz"), gzip(labels_idx(kLabels)));
  check_small_dataset(read_idx(dir.file("img"), dir.file("lbl")));
  check_small_dataset(read_idx(dir.file("img.gz"), dir.file("lbl.gz")));
  check_small_dataset(read_idx(dir.file("img.gz"), dir.file("lbl")));
}

BOOST_AUTO_TEST_CASE(gzip_spanning_several_deflate_blocks_reads_every_byte) {
  MODNORM_FRESH_GENERATOR(gen);
  TempDir dir;
  const std::uint32_t n = 120;  // 94080 pixel bytes: two stored blocks
  Bytes pixels(n * 28 * 28), labels(n);
  for (auto& p : pixels) p = static_cast<unsigned char>(gen.below(256));
  for (auto& l : labels) l = static_cast<unsigned char>(gen.below(10));
  write_file(dir.file("img.gz"), gzip(images_idx(n, 28, 28, pixels)));
  write_file(dir.file("lbl.gz"), gzip(labels_idx(labels)));
  const Dataset d = read_idx(dir.file("img.gz"), dir.file("lbl.gz"));
  BOOST_TEST((d.images.shape() == Shape{n, 784}));
  const auto x = d.images.to_vector();
  bool all_equal = true;
  for (std::size_t i = 0; i < pixels.size(); ++i) all_equal &= x[i] == pixels[i] / 255.0f;
  BOOST_TEST(all_equal);
  BOOST_TEST((d.labels == std::vector<std::int64_t>(labels.begin(), labels.end())));
}

BOOST_AUTO_TEST_CASE(labels_are_not_checked_against_a_class_count) {
  TempDir dir;
  write_file(dir.file("img"), images_idx(1, 1, 1, {9}));
  write_file(dir.file("lbl"), labels_idx({200}));
  BOOST_TEST(read_idx(dir.file("img"), dir.file("lbl")).labels[0] == 200);
}

BOOST_AUTO_TEST_CASE(zero_images_make_an_empty_dataset) {
  TempDir dir;
  write_file(dir.file("img"), images_idx(0, 28, 28, {}));
  write_file(dir.file("lbl.gz"), gzip(labels_idx({})));
  const Dataset d = read_idx(dir.file("img"), dir.file("lbl.gz"));
  BOOST_TEST(d.size() == 0);
  BOOST_TEST((d.images.shape() == Shape{0, 784}));
}

// ---- errors name the file
// ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_missing_file_is_named) {
  TempDir dir;
  write_file(dir.file("img"), images_idx(3, 2, 4, kPixels));
  write_file(dir.file("lbl"), labels_idx(kLabels));
  expect_error([&] { read_idx(dir.file("absent.gz"), dir.file("lbl")); },
               {"[read_idx] " + dir.file("absent.gz") + ": cannot open", "No such file"});
  expect_error([&] { read_idx(dir.file("img"), dir.file("absent")); },
               {"[read_idx] " + dir.file("absent") + ": cannot open"});
}

BOOST_AUTO_TEST_CASE(a_bad_magic_number_is_quoted_in_hex_with_the_expected_one) {
  TempDir dir;
  write_file(dir.file("img"), images_idx(3, 2, 4, kPixels));
  write_file(dir.file("lbl.gz"), gzip(labels_idx(kLabels)));
  // Images and labels swapped: each file has the other's magic number.
  expect_error([&] { read_idx(dir.file("lbl.gz"), dir.file("img")); },
               {"[read_idx] " + dir.file("lbl.gz") + ": bad magic number 0x00000801",
                "expected 0x00000803"});
  expect_error(
      [&] { read_idx(dir.file("img"), dir.file("img")); },
      {"[read_idx] " + dir.file("img") + ": bad magic number 0x00000803", "expected 0x00000801"});
  write_file(dir.file("text"),
             Bytes{'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '!', '!', '!', '!', '!'});
  expect_error([&] { read_idx(dir.file("text"), dir.file("lbl.gz")); },
               {dir.file("text") + ": bad magic number 0x68656c6c, expected 0x00000803"});
}

BOOST_AUTO_TEST_CASE(truncated_images_say_how_many_bytes_were_expected_and_read) {
  TempDir dir;
  const Bytes short_pixels(kPixels.begin(), kPixels.begin() + 20);
  write_file(dir.file("img"), images_idx(3, 2, 4, short_pixels));
  write_file(dir.file("img.gz"), gzip(images_idx(3, 2, 4, short_pixels)));
  write_file(dir.file("lbl"), labels_idx(kLabels));
  for (const char* name : {"img", "img.gz"})
    expect_error(
        [&] { read_idx(dir.file(name), dir.file("lbl")); },
        {"[read_idx] " + dir.file(name) + ": truncated data: expected 24 bytes", "got 20"});
}

BOOST_AUTO_TEST_CASE(truncated_labels_say_how_many_bytes_were_expected_and_read) {
  TempDir dir;
  write_file(dir.file("img"), images_idx(3, 2, 4, kPixels));
  write_file(dir.file("lbl.gz"), gzip(idx_file(0x00000801, {3}, {2, 0})));
  expect_error(
      [&] { read_idx(dir.file("img"), dir.file("lbl.gz")); },
      {"[read_idx] " + dir.file("lbl.gz") + ": truncated data: expected 3 bytes", "got 2"});
}

BOOST_AUTO_TEST_CASE(a_truncated_header_is_an_error) {
  TempDir dir;
  write_file(dir.file("img"), Bytes{0, 0, 8, 3, 0, 0});
  write_file(dir.file("tiny"), Bytes{0, 0});
  write_file(dir.file("lbl"), labels_idx(kLabels));
  expect_error([&] { read_idx(dir.file("img"), dir.file("lbl")); },
               {dir.file("img") + ": truncated header: expected 16 bytes, got 6"});
  expect_error([&] { read_idx(dir.file("tiny"), dir.file("lbl")); },
               {dir.file("tiny") + ": truncated header: expected 16 bytes, got 2"});
}

BOOST_AUTO_TEST_CASE(image_and_label_counts_that_differ_name_both_files) {
  TempDir dir;
  write_file(dir.file("img"), images_idx(3, 2, 4, kPixels));
  write_file(dir.file("lbl"), labels_idx({1, 2}));
  expect_error(
      [&] { read_idx(dir.file("img"), dir.file("lbl")); },
      {"[read_idx] " + dir.file("img") + ", " + dir.file("lbl") + ": 3 images but 2 labels"});
}

BOOST_AUTO_TEST_CASE(bytes_after_the_declared_data_are_an_error) {
  TempDir dir;
  Bytes extra = kPixels;
  extra.push_back(1);
  extra.push_back(2);
  write_file(dir.file("img.gz"), gzip(images_idx(3, 2, 4, extra)));
  write_file(dir.file("lbl"), labels_idx(kLabels));
  expect_error([&] { read_idx(dir.file("img.gz"), dir.file("lbl")); },
               {dir.file("img.gz") + ": trailing data: 2 bytes after the 24 bytes"});
}

BOOST_AUTO_TEST_CASE(corrupt_gzip_data_is_an_error_naming_the_file) {
  TempDir dir;
  Bytes gz = gzip(images_idx(3, 2, 4, kPixels));
  gz[gz.size() - 6] ^= 0xff;  // break the CRC-32 in the trailer
  write_file(dir.file("img.gz"), gz);
  write_file(dir.file("lbl"), labels_idx(kLabels));
  expect_error([&] { read_idx(dir.file("img.gz"), dir.file("lbl")); },
               {"[read_idx] " + dir.file("img.gz") + ": read error"});
}

BOOST_AUTO_TEST_CASE(images_without_pixels_are_rejected) {
  TempDir dir;
  write_file(dir.file("img"), images_idx(3, 0, 4, {}));
  write_file(dir.file("lbl"), labels_idx(kLabels));
  expect_error([&] { read_idx(dir.file("img"), dir.file("lbl")); },
               {dir.file("img") + ": images of 0 x 4 pixels"});
}

BOOST_AUTO_TEST_CASE(sizes_whose_images_exceed_the_tensor_limit_are_rejected_before_reading) {
  // 2^32-1 images of (2^32-1)^2 pixels: far past kMaxTensorBytes as f32. With no images at all
  // the pixel count alone, (2^32-1)^2, still does not fit one.
  TempDir dir;
  constexpr std::uint32_t kMax = 0xFFFFFFFFu;
  for (std::uint32_t n : {kMax, 0u}) {
    write_file(dir.file("img"), idx_file(0x00000803, {n, kMax, kMax}, {}));
    write_file(dir.file("lbl"), idx_file(0x00000801, {n}, {}));
    expect_error([&] { read_idx(dir.file("img"), dir.file("lbl")); },
                 {"[read_idx] " + dir.file("img") + ": header declares " + std::to_string(n) +
                  " x 4294967295 x 4294967295 pixels: shape [" + std::to_string(n) +
                  "x4294967295x4294967295] of 4-byte elements is larger than the limit"});
  }
}

// ---- Fashion-MNIST
// -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(default_directory_is_debians) {
  BOOST_TEST(default_fashion_mnist_dir() == "/usr/share/datasets/fashion-mnist");
}

BOOST_AUTO_TEST_CASE(a_missing_directory_names_the_file_and_how_to_get_it) {
  TempDir dir;
  const std::string missing = dir.file("nowhere");
  expect_error([&] { load_fashion_mnist(missing); },
               {"[load_fashion_mnist] " + missing + "/train-images-idx3-ubyte.gz: no such file",
                "--data DIR", "apt-get install dataset-fashion-mnist"});
}

BOOST_AUTO_TEST_CASE(loader_normalises_both_sets_with_the_training_mean_and_std) {
  TempDir dir;
  // Training pixels {0, 51, 102, 153} / 255 = {0, .2, .4, .6}: mean .3, std sqrt(.05).
  write_file(dir.file("train-images-idx3-ubyte.gz"), gzip(images_idx(2, 1, 2, {0, 51, 102, 153})));
  write_file(dir.file("train-labels-idx1-ubyte.gz"), gzip(labels_idx({1, 3})));
  // Plain (uncompressed) test files are found too.
  write_file(dir.file("t10k-images-idx3-ubyte"), images_idx(1, 1, 2, {255, 0}));
  write_file(dir.file("t10k-labels-idx1-ubyte"), labels_idx({4}));
  const FashionMnist data = load_fashion_mnist(dir.path.string());
  const double mean = 0.3, sd = std::sqrt(0.05);
  BOOST_TEST(data.pixel_mean == mean, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(data.pixel_std == sd, boost::test_tools::tolerance(1e-6));
  const auto train = data.train.images.to_vector();
  const double raw[] = {0.0, 0.2, 0.4, 0.6};
  for (int i = 0; i < 4; ++i)
    BOOST_TEST(train[i] == (raw[i] - mean) / sd, boost::test_tools::tolerance(1e-5));
  const auto test = data.test.images.to_vector();
  BOOST_TEST(test[0] == (1.0 - mean) / sd, boost::test_tools::tolerance(1e-5));
  BOOST_TEST(test[1] == (0.0 - mean) / sd, boost::test_tools::tolerance(1e-5));
  BOOST_TEST((data.train.labels == std::vector<std::int64_t>{1, 3}));
  BOOST_TEST((data.test.labels == std::vector<std::int64_t>{4}));
}

BOOST_AUTO_TEST_CASE(a_label_outside_the_ten_classes_is_refused_at_load) {
  TempDir dir;
  write_file(dir.file("train-images-idx3-ubyte"), images_idx(2, 1, 2, {0, 51, 102, 153}));
  write_file(dir.file("train-labels-idx1-ubyte"), labels_idx({1, 3}));
  write_file(dir.file("t10k-images-idx3-ubyte"), images_idx(2, 1, 2, {255, 0, 1, 2}));
  write_file(dir.file("t10k-labels-idx1-ubyte"), labels_idx({4, 200}));
  expect_error([&] { load_fashion_mnist(dir.path.string()); },
               {"[load_fashion_mnist] " + dir.file("t10k-labels-idx1-ubyte"), "label 200",
                "index 1", "0 to 9"});
}

BOOST_AUTO_TEST_CASE(real_fashion_mnist_has_its_published_shape_and_normalisation,
                     *boost::unit_test::precondition(fashion_mnist_installed)) {
  const FashionMnist data = load_fashion_mnist();
  BOOST_TEST(data.train.size() == 60000);
  BOOST_TEST(data.test.size() == 10000);
  BOOST_TEST(data.train.rows == 28);
  BOOST_TEST(data.train.cols == 28);
  BOOST_TEST((data.train.images.shape() == Shape{60000, 784}));
  BOOST_TEST((data.test.images.shape() == Shape{10000, 784}));
  // 6000 (train) and 1000 (test) examples of each of the 10 classes.
  for (const Dataset* d : {&data.train, &data.test}) {
    const auto [lo, hi] = std::minmax_element(d->labels.begin(), d->labels.end());
    BOOST_REQUIRE(*lo == 0);
    BOOST_REQUIRE(*hi == 9);
    std::vector<std::int64_t> per_class(10, 0);
    for (auto label : d->labels) ++per_class[static_cast<std::size_t>(label)];
    for (auto count : per_class) BOOST_TEST(count == d->size() / 10);
  }
  BOOST_TEST(data.train.labels[0] == 9);  // the first training image is an ankle boot
  BOOST_TEST(data.pixel_mean == 0.2860, boost::test_tools::tolerance(1e-3));
  BOOST_TEST(data.pixel_std == 0.3530, boost::test_tools::tolerance(1e-2));
  // Normalised training pixels: mean ~0 and standard deviation ~1.
  const auto x = data.train.images.to_vector();
  double sum = 0, squares = 0;
  for (float v : x) sum += v;
  const double mean = sum / static_cast<double>(x.size());
  for (float v : x) squares += (v - mean) * (v - mean);
  BOOST_TEST(std::abs(mean) < 1e-4);
  BOOST_TEST(std::sqrt(squares / static_cast<double>(x.size())) == 1.0,
             boost::test_tools::tolerance(1e-4));
}

// ---- mini-batches
// --------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(every_index_appears_exactly_once_per_epoch) {
  MODNORM_FRESH_GENERATOR(gen);
  BatchSampler sampler(103, 10, gen);
  BOOST_TEST(sampler.batches_per_epoch() == 11);
  for (int epoch = 0; epoch < 3; ++epoch) {
    const auto batches = sampler.next_epoch();
    BOOST_REQUIRE(batches.size() == 11u);
    std::vector<std::int64_t> seen;
    for (std::size_t b = 0; b < batches.size(); ++b) {
      BOOST_TEST(batches[b].size() == (b + 1 < batches.size() ? 10u : 3u));
      seen.insert(seen.end(), batches[b].begin(), batches[b].end());
    }
    std::sort(seen.begin(), seen.end());
    std::vector<std::int64_t> all(103);
    for (std::int64_t i = 0; i < 103; ++i) all[static_cast<std::size_t>(i)] = i;
    BOOST_TEST(seen == all, boost::test_tools::per_element());
  }
  BOOST_TEST(sampler.epochs_drawn() == 3);
}

BOOST_AUTO_TEST_CASE(same_seed_gives_same_order_and_epochs_differ) {
  const std::uint64_t seed = modnorm::test::fresh_seed();
  BOOST_TEST_INFO_SCOPE("seed " << seed);
  Generator g1(seed), g2(seed);
  BatchSampler a(100, 16, g1), b(100, 16, g2);
  g2.next_u64();  // using the generator afterwards does not change the sampler's stream
  const auto a1 = a.next_epoch(), a2 = a.next_epoch();
  const auto b1 = b.next_epoch(), b2 = b.next_epoch();
  BOOST_TEST((a1 == b1));
  BOOST_TEST((a2 == b2));
  BOOST_TEST((a1 != a2));  // equal by chance with probability 1/100!
  // A fresh permutation, not the identity.
  std::vector<std::int64_t> flat;
  for (const auto& batch : a1) flat.insert(flat.end(), batch.begin(), batch.end());
  BOOST_TEST(!std::is_sorted(flat.begin(), flat.end()));
}

BOOST_AUTO_TEST_CASE(drop_last_keeps_only_full_batches) {
  MODNORM_FRESH_GENERATOR(gen);
  BatchSampler sampler(103, 10, gen, /*drop_last=*/true);
  BOOST_TEST(sampler.drop_last());
  BOOST_TEST(sampler.batches_per_epoch() == 10);
  const auto batches = sampler.next_epoch();
  BOOST_REQUIRE(batches.size() == 10u);
  std::vector<std::int64_t> seen;
  for (const auto& batch : batches) {
    BOOST_TEST(batch.size() == 10u);
    seen.insert(seen.end(), batch.begin(), batch.end());
  }
  std::sort(seen.begin(), seen.end());
  BOOST_TEST((std::adjacent_find(seen.begin(), seen.end()) == seen.end()));  // no repeats
  BOOST_TEST(seen.front() >= 0);
  BOOST_TEST(seen.back() < 103);
  // An exact multiple drops nothing; without drop_last a batch larger than the data is all of it.
  BOOST_TEST(BatchSampler(100, 10, gen, true).next_epoch().size() == 10u);
  const auto whole = BatchSampler(5, 8, gen).next_epoch();
  BOOST_REQUIRE(whole.size() == 1u);
  BOOST_TEST(whole[0].size() == 5u);
}

BOOST_AUTO_TEST_CASE(batch_counts_do_not_overflow_for_huge_sizes) {
  Generator gen(0);
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  BOOST_TEST(BatchSampler(kMax, kMax - 1, gen).batches_per_epoch() == 2);
  BOOST_TEST(BatchSampler(kMax, kMax - 1, gen, true).batches_per_epoch() == 1);
  BOOST_TEST(BatchSampler(kMax, kMax, gen).batches_per_epoch() == 1);
  BatchSampler whole(10, kMax, gen);
  BOOST_TEST(whole.batches_per_epoch() == 1);
  const auto batches = whole.next_epoch();
  BOOST_REQUIRE(batches.size() == 1u);
  BOOST_TEST(batches[0].size() == 10u);
}

BOOST_AUTO_TEST_CASE(sampler_rejects_bad_sizes) {
  Generator gen(0);
  expect_error([&] { BatchSampler(10, 0, gen); },
               {"[BatchSampler] batch size must be at least 1, got 0"});
  expect_error([&] { BatchSampler(10, -3, gen); }, {"[BatchSampler]", "got -3"});
  expect_error([&] { BatchSampler(0, 4, gen); },
               {"[BatchSampler] dataset size must be at least 1, got 0"});
  expect_error([&] { BatchSampler(5, 8, gen, true); },
               {"[BatchSampler] drop_last", "8 > dataset size 5"});
}

BOOST_AUTO_TEST_CASE(make_batch_gathers_rows_and_labels_in_order) {
  Dataset d;
  d.images = Tensor::from_vector({0, 1, 10, 11, 20, 21, 30, 31}, {4, 2});
  d.labels = {5, 6, 7, 8};
  d.rows = 1;
  d.cols = 2;
  const Batch b = make_batch(d, {3, 0, 3});
  BOOST_TEST((b.x.shape() == Shape{3, 2}));
  BOOST_TEST((b.x.to_vector() == std::vector<float>{30, 31, 0, 1, 30, 31}));
  BOOST_TEST((b.y.shape() == Shape{3}));
  BOOST_TEST(b.y.dtype() == DType::i32);
  BOOST_TEST((b.y.to_vector_f64() == std::vector<double>{8, 5, 8}));

  MODNORM_FRESH_GENERATOR(gen);
  BatchSampler sampler(d.size(), 3, gen);
  for (const auto& ids : sampler.next_epoch()) {
    const Batch batch = make_batch(d, ids);
    BOOST_TEST(batch.x.dim(0) == static_cast<std::int64_t>(ids.size()));
    const std::vector<double> y = batch.y.to_vector_f64();
    for (std::size_t k = 0; k < ids.size(); ++k)
      BOOST_TEST(y[k] == static_cast<double>(ids[k] + 5));
  }
}

BOOST_AUTO_TEST_CASE(make_batch_rejects_empty_and_out_of_range_indices) {
  Dataset d;
  d.images = Tensor::zeros({4, 2});
  d.labels = {0, 1, 2, 3};
  expect_error([&] { make_batch(d, {}); }, {"[make_batch] no indices"});
  expect_error(
      [&] {
        make_batch(d, {0, 4});
      },
      {"[make_batch] index 4 (position 1) is outside [0, 4)"});
  expect_error([&] { make_batch(d, {-1}); }, {"[make_batch] index -1"});
  d.labels[2] = std::int64_t{1} << 31;  // held as int64 on the host, handed on as i32
  expect_error(
      [&] {
        make_batch(d, {1, 2});
      },
      {"[make_batch] label 2147483648 of example 2 is outside the range of i32"});
  d.labels.pop_back();
  expect_error([&] { make_batch(d, {0}); }, {"[make_batch] images [4x2] f32 cpu", "3 labels"});
}

BOOST_AUTO_TEST_SUITE_END()
