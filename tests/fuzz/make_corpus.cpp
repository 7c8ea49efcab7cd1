// Writes the seed corpus of the fuzz targets with the library's own writers:
//   fuzz_make_corpus tests/fuzz/corpus
// fills corpus/safetensors/, corpus/checkpoint/, corpus/gpt_checkpoint/ and corpus/idx/ (each file
// well under 20 KB). The committed seeds were made by this program; rerun it after a format change.
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cli/gpt.hpp"
#include "cli/mlp.hpp"
#include "modnorm/modnorm.hpp"

namespace fs = std::filesystem;
using modnorm::Tensor;

namespace {

void write_bytes(const fs::path& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) throw modnorm::Error("[make_corpus] cannot write " + path.string());
}

void safetensors_seeds(const fs::path& dir) {
  modnorm::Generator gen(1);
  modnorm::save_safetensors((dir / "f32_matrix.safetensors").string(),
                            {{"w", Tensor::randn({2, 3}, gen)}}, {{"format", "pt"}});
  modnorm::save_safetensors((dir / "every_dtype_and_rank.safetensors").string(),
                            {{"scalar", Tensor::from_vector_f64({2.5}, {})},
                             {"vector_bf16", Tensor::randn({3}, gen).to(modnorm::DType::bf16)},
                             {"matrix_f64", Tensor::randn({2, 2}, gen, modnorm::DType::f64)},
                             {"rank4", Tensor::randn({1, 2, 1, 2}, gen)},
                             {"empty", Tensor::zeros({0, 3})}},
                            {{"step", "7"}, {"note", "caf\xc3\xa9"}});
  modnorm::save_safetensors((dir / "no_tensors.safetensors").string(), {}, {{"k", "v"}});
}

// One step of each state layout, saved as trainer.cpp's save_checkpoint does.
void checkpoint_seeds(const fs::path& dir) {
  const modnorm::cli::MlpShape shape{4, 3, 2, 2};
  struct Layout {
    const char* name;
    modnorm::Algorithm algorithm;
    bool normuon;
  };
  for (const Layout& l : {Layout{"modular", modnorm::Algorithm::modular, false},
                          Layout{"modular_normuon", modnorm::Algorithm::modular, true},
                          Layout{"sgd", modnorm::Algorithm::sgd, false},
                          Layout{"adamw", modnorm::Algorithm::adamw, false},
                          Layout{"adaptive_adam", modnorm::Algorithm::adaptive_adam, false}}) {
    modnorm::Generator gen(2);
    modnorm::Module net = modnorm::cli::make_mlp(shape);
    net.initialize(gen);
    modnorm::OptimizerOptions options;
    options.algorithm = l.algorithm;
    options.normuon.enabled = l.normuon;
    modnorm::Optimizer opt(net, options);
    const Tensor x = Tensor::randn({2, 4}, gen);
    net.zero_grad();
    net.backward(
        modnorm::softmax_cross_entropy(net.forward(x), Tensor::from_vector_i32({0, 1}, {2})).grad);
    opt.step();
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (const modnorm::Parameter& p : net.parameters()) tensors.emplace_back(p.name, p.weight);
    for (const auto& [name, t] : opt.state()) tensors.emplace_back("optim." + name, t);
    modnorm::save_safetensors((dir / (std::string(l.name) + ".safetensors")).string(), tensors,
                              {{"format", "pt"},
                               {"model", "mlp"},
                               {"inputs", "4"},
                               {"width", "3"},
                               {"depth", "2"},
                               {"classes", "2"},
                               {"optimizer", modnorm::to_string(l.algorithm)},
                               {"batch", "2"},
                               {"epochs_done", "1"}});
  }
}

// A GPT of 3 characters after one step, saved as trainer.cpp's save_checkpoint does for a GPT
// (fuzz_gpt_checkpoint).
void gpt_checkpoint_seeds(const fs::path& dir) {
  const modnorm::cli::GptShape shape{3, 4, 1, 2, 4};
  modnorm::Generator gen(3);
  modnorm::Module net = modnorm::cli::make_gpt(shape);
  net.initialize(gen);
  modnorm::Optimizer opt(net, modnorm::OptimizerOptions{});
  const Tensor ids = Tensor::from_vector_i32({0, 1, 2, 1, 2, 0, 0, 2}, {2, 4});
  const modnorm::Tensor logits = net.forward(ids).reshape({8, 3});
  net.zero_grad();
  net.backward(
      modnorm::softmax_cross_entropy(logits, Tensor::from_vector_i32({1, 2, 1, 2, 0, 0, 2, 1}, {8}))
          .grad.reshape({2, 4, 3}),
      false);
  opt.step();
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const modnorm::Parameter& p : net.parameters()) tensors.emplace_back(p.name, p.weight);
  for (const auto& [name, t] : opt.state()) tensors.emplace_back("optim." + name, t);
  modnorm::save_safetensors((dir / "gpt.safetensors").string(), tensors,
                            {{"format", "pt"},
                             {"model", "gpt"},
                             {"vocab", "3"},
                             {"vocabulary", "abc"},
                             {"width", "4"},
                             {"depth", "1"},
                             {"heads", "2"},
                             {"context", "4"},
                             {"optimizer", "modular"},
                             {"seed", "3"},
                             {"batch", "2"},
                             {"steps_done", "1"}});
}

std::vector<std::uint8_t> big_endian(std::uint32_t v) {
  return {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
          static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

std::vector<std::uint8_t> gzip(const std::vector<std::uint8_t>& bytes) {
  z_stream s{};
  deflateInit2(&s, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::vector<std::uint8_t> out(deflateBound(&s, static_cast<uLong>(bytes.size())) + 32);
  s.next_in = const_cast<Bytef*>(bytes.data());
  s.avail_in = static_cast<uInt>(bytes.size());
  s.next_out = out.data();
  s.avail_out = static_cast<uInt>(out.size());
  deflate(&s, Z_FINISH);
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}

// fuzz_idx.cpp's input layout: flags, the images part's length (little-endian), images, labels.
std::vector<std::uint8_t> idx_input(std::uint8_t flags, const std::vector<std::uint8_t>& images,
                                    const std::vector<std::uint8_t>& labels) {
  const auto n = static_cast<std::uint32_t>(images.size());
  std::vector<std::uint8_t> out{
      flags, static_cast<std::uint8_t>(n), static_cast<std::uint8_t>(n >> 8),
      static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 24)};
  out.insert(out.end(), images.begin(), images.end());
  out.insert(out.end(), labels.begin(), labels.end());
  return out;
}

void idx_seeds(const fs::path& dir) {
  // Three 4 x 5 images and their labels.
  std::vector<std::uint8_t> images = big_endian(0x00000803);
  for (const std::uint32_t d : {3u, 4u, 5u}) {
    const auto b = big_endian(d);
    images.insert(images.end(), b.begin(), b.end());
  }
  for (int i = 0; i < 3 * 4 * 5; ++i) images.push_back(static_cast<std::uint8_t>(i * 17));
  std::vector<std::uint8_t> labels = big_endian(0x00000801);
  const auto n = big_endian(3);
  labels.insert(labels.end(), n.begin(), n.end());
  labels.insert(labels.end(), {7, 0, 9});

  write_bytes(dir / "plain.bin", idx_input(0, images, labels));
  write_bytes(dir / "gzipped_by_target.bin", idx_input(3, images, labels));
  write_bytes(dir / "gzip_streams.bin", idx_input(0, gzip(images), gzip(labels)));
  write_bytes(dir / "gzip_images_only.bin", idx_input(1, images, labels));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const fs::path root = argv[1];
  for (const char* target : {"safetensors", "checkpoint", "gpt_checkpoint", "idx"})
    fs::create_directories(root / target);
  safetensors_seeds(root / "safetensors");
  checkpoint_seeds(root / "checkpoint");
  gpt_checkpoint_seeds(root / "gpt_checkpoint");
  idx_seeds(root / "idx");
  std::printf("seeds written under %s\n", root.string().c_str());
  return 0;
}
