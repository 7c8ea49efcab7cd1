// safetensors checkpoints: round trips, the exact byte layout, corrupt files, safe saving.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "modnorm/safetensors.hpp"
#include "support.hpp"

using namespace modnorm;
namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<unsigned char>;

using modnorm::test::TempDir;

Bytes read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  BOOST_REQUIRE_MESSAGE(f.good(), "cannot open " << path);
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const Bytes& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  BOOST_REQUIRE(f.good());
}

std::uint64_t le64(const Bytes& b, std::size_t at) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[at + static_cast<std::size_t>(i)];
  return v;
}

// A hand-made safetensors file: header length, `header` padded with spaces to a multiple of 8
// (when `pad`), then `data`.
Bytes safetensors_bytes(std::string header, const Bytes& data, bool pad = true) {
  if (pad) header.append((8 - header.size() % 8) % 8, ' ');
  Bytes out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<unsigned char>(header.size() >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

using modnorm::test::expect_error;

// The files in `dir` that a save left behind as temporaries (`<name>.tmp.<pid>.<n>`).
std::vector<std::string> temp_files(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.path().filename().string().find(".tmp.") != std::string::npos)
      out.push_back(entry.path().string());
  return out;
}

// While alive, writing a file past `bytes` fails with EFBIG (instead of raising SIGXFSZ).
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    BOOST_REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_) == 0);
    old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = old_;
    limit.rlim_cur = bytes;
    BOOST_REQUIRE(::setrlimit(RLIMIT_FSIZE, &limit) == 0);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &old_);
    ::signal(SIGXFSZ, old_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit old_{};
  void (*old_handler_)(int) = nullptr;
};

// Writes a corrupt file and checks that loading it fails with `[load_safetensors] <path>: ...`.
void expect_load_error(const TempDir& dir, const Bytes& bytes, const std::string& fragment) {
  const std::string path = dir.file("corrupt.safetensors");
  write_bytes(path, bytes);
  BOOST_TEST_CONTEXT("file expected to fail with '" << fragment << "'") {
    expect_error([&] { load_safetensors(path); }, {"[load_safetensors] " + path + ": ", fragment});
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(safetensors)

// ---- round trips --------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(round_trip_keeps_order_bits_and_metadata_for_every_dtype_and_rank) {
  MODNORM_FRESH_GENERATOR(gen);
  TempDir dir;
  const std::vector<Shape> shapes = {{}, {3}, {2, 3}, {2, 1, 3}, {1, 2, 3, 2}, {0, 3}};
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (DType dt : {DType::f32, DType::bf16, DType::f64})
    for (std::size_t i = 0; i < shapes.size(); ++i)  // names deliberately not in sorted order
      tensors.emplace_back("z" + std::to_string(9 - i) + "." + to_string(dt),
                           Tensor::randn(shapes[i], gen, dt));
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"step", "1000"}, {"note", "unicode \xc3\xa9 \xe2\x9c\x93"}, {"", ""}};
  const std::string path = dir.file("model.safetensors");
  save_safetensors(path, tensors, metadata);
  BOOST_TEST(temp_files(dir.path).empty());

  const SafetensorsFile file = load_safetensors(path);
  BOOST_TEST((file.metadata == metadata));
  BOOST_REQUIRE(file.tensors.size() == tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& [name, t] = file.tensors[i];
    BOOST_TEST_CONTEXT(tensors[i].first << " " << tensors[i].second.describe()) {
      BOOST_TEST(name == tensors[i].first);
      BOOST_TEST(t.describe() == tensors[i].second.describe());
      BOOST_TEST((t.to_vector_f64() == tensors[i].second.to_vector_f64()));
      BOOST_TEST(&file.at(name) == &t);
    }
  }
}

BOOST_AUTO_TEST_CASE(no_tensors_and_no_metadata_make_a_valid_file) {
  TempDir dir;
  const std::string path = dir.file("empty.safetensors");
  save_safetensors(path, {});
  const Bytes bytes = read_bytes(path);
  BOOST_TEST(bytes.size() == 16u);  // "{}" padded to 8
  BOOST_TEST(le64(bytes, 0) == 8u);
  BOOST_TEST(std::string(bytes.begin() + 8, bytes.end()) == "{}      ");
  const SafetensorsFile file = load_safetensors(path);
  BOOST_TEST(file.tensors.empty());
  BOOST_TEST(file.metadata.empty());
}

BOOST_AUTO_TEST_CASE(saving_again_replaces_the_file) {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  save_safetensors(path, {{"a", Tensor::full({4}, 1.0)}});
  save_safetensors(path, {{"b", Tensor::full({2}, 2.0)}}, {{"step", "2"}});
  const SafetensorsFile file = load_safetensors(path);
  BOOST_REQUIRE(file.tensors.size() == 1u);
  BOOST_TEST(file.tensors[0].first == "b");
  BOOST_TEST((file.tensors[0].second.to_vector() == std::vector<float>{2, 2}));
  BOOST_TEST(file.metadata.at("step") == "2");
}

// A killed save cannot remove its temporary file; the next save to the path removes those of
// processes that are gone, and nothing else: not a live process's (a save in progress), not
// another file's, not names that only resemble the pattern.
BOOST_AUTO_TEST_CASE(a_save_removes_the_temporary_files_of_killed_saves) {
  TempDir dir;
  const std::string path = dir.file("ck.safetensors");
  const pid_t child = ::fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) ::_exit(0);
  BOOST_REQUIRE(::waitpid(child, nullptr, 0) == child);  // a process id that is gone
  const std::string dead = std::to_string(child), live = std::to_string(::getppid());
  const std::vector<std::string> stale = {path + ".tmp." + dead + ".0",
                                          path + ".tmp." + dead + ".41"};
  const std::vector<std::string> kept = {
      path + ".tmp." + live + ".0",     path + ".tmp." + dead,
      path + ".tmp." + dead + ".0.bak", path + ".tmp.x" + dead + ".0",
      path + ".tmp.-" + dead + ".0",    dir.file("other.safetensors.tmp." + dead + ".0")};
  for (const auto& names : {stale, kept})
    for (const std::string& name : names) std::ofstream(name) << "partial";
  save_safetensors(path, {{"a", Tensor::full({2}, 1.0)}});
  for (const std::string& name : stale) BOOST_TEST(!fs::exists(name), name << " was kept");
  for (const std::string& name : kept) BOOST_TEST(fs::exists(name), name << " was removed");
  BOOST_TEST(load_safetensors(path).tensors.size() == 1u);
}

BOOST_AUTO_TEST_CASE(at_finds_a_tensor_by_name_or_lists_the_names) {
  SafetensorsFile file;
  file.tensors = {{"0.weight", Tensor::zeros({2, 2})}, {"2.weight", Tensor::zeros({1, 2})}};
  BOOST_TEST((file.at("2.weight").shape() == Shape{1, 2}));
  expect_error([&] { file.at("1.weight"); },
               {"[SafetensorsFile::at] no tensor named '1.weight' (have: '0.weight', '2.weight')"});
}

// ---- the byte layout (the format's contract)
// ------------------------------------------------------

BOOST_AUTO_TEST_CASE(byte_layout_of_a_tiny_file_is_the_published_format) {
  TempDir dir;
  const std::string path = dir.file("tiny.safetensors");
  save_safetensors(path,
                   {{"w", Tensor::from_vector({1.0f, -2.5f}, {2})},
                    {"h", Tensor::from_vector({1.0f, -2.0f, 0.5f}, {3}).to(DType::bf16)},
                    {"s", Tensor::from_vector_f64({3.0}, {})}},
                   {{"format", "pt"}});
  const Bytes bytes = read_bytes(path);

  // 8-byte little-endian header length N; 8 + N is a multiple of 8.
  BOOST_REQUIRE(bytes.size() >= 8u);
  const std::uint64_t n = le64(bytes, 0);
  BOOST_TEST((8 + n) % 8 == 0u);
  BOOST_REQUIRE(bytes.size() == 8 + n + 22);  // 8 + 6 + 8 data bytes

  // The header is JSON followed by at most 7 spaces of padding.
  const std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  const std::size_t json_end = header.find_last_of('}') + 1;
  BOOST_TEST(header.size() - json_end < 8u);
  BOOST_TEST(header.find_first_not_of(' ', json_end) == std::string::npos);
  const auto parsed = nlohmann::json::parse(header);
  const auto expected = nlohmann::json::parse(R"({
      "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "h": {"dtype": "BF16", "shape": [3], "data_offsets": [8, 14]},
      "s": {"dtype": "F64", "shape": [], "data_offsets": [14, 22]},
      "__metadata__": {"format": "pt"}})");
  BOOST_TEST(parsed == expected, "header " << parsed.dump() << " != " << expected.dump());

  // Raw little-endian data, packed in the given order.
  const Bytes data(bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n), bytes.end());
  const Bytes expected_data = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0,  // f32 1.0, -2.5
                               0x80, 0x3f, 0x00, 0xc0, 0x00, 0x3f,  // bf16 1.0, -2.0, 0.5
                               0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x40};  // f64 3.0
  BOOST_TEST(data == expected_data, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(files_from_other_writers_load_in_data_offset_order) {
  // Metadata first, keys out of offset order, no padding, a gap and trailing bytes: all legal.
  TempDir dir;
  const std::string header = R"({"__metadata__":{"k":"v"},)"
                             R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},)"
                             R"("a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},)"
                             R"("e":{"dtype":"F64","shape":[0],"data_offsets":[4,4]}})";
  const Bytes data = {0x00, 0x00, 0x80, 0x3f, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x40, 0xee};
  const std::string path = dir.file("other.safetensors");
  write_bytes(path, safetensors_bytes(header, data, /*pad=*/false));
  const SafetensorsFile file = load_safetensors(path);
  BOOST_REQUIRE(file.tensors.size() == 3u);
  BOOST_TEST(file.tensors[0].first == "a");
  BOOST_TEST(file.tensors[1].first == "e");
  BOOST_TEST(file.tensors[2].first == "b");
  BOOST_TEST((file.tensors[0].second.shape() == Shape{1, 1}));
  BOOST_TEST(file.tensors[0].second.item() == 1.0);
  BOOST_TEST(file.tensors[1].second.describe() == "[0] f64 cpu");
  BOOST_TEST(file.tensors[2].second.item() == 2.0);
  BOOST_TEST(file.metadata.at("k") == "v");
}

// ---- corrupt files
// ---------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_missing_file_is_named) {
  TempDir dir;
  const std::string path = dir.file("absent.safetensors");
  expect_error([&] { load_safetensors(path); },
               {"[load_safetensors] " + path + ": cannot open: No such file or directory"});
}

BOOST_AUTO_TEST_CASE(a_file_shorter_than_8_bytes_is_rejected) {
  TempDir dir;
  expect_load_error(dir, {1, 0, 0, 0, 0}, "file is 5 bytes, shorter than the 8-byte header length");
  expect_load_error(dir, {}, "file is 0 bytes");
}

BOOST_AUTO_TEST_CASE(a_header_length_larger_than_the_file_is_rejected) {
  TempDir dir;
  Bytes bytes = safetensors_bytes("{}", {});
  bytes[0] = 200;
  expect_load_error(dir, bytes, "header length 200 is larger than the 8 bytes after it");
  bytes[0] = 0;
  bytes[7] = 0x80;  // 2^63: must not overflow the check
  expect_load_error(dir, bytes, "header length 9223372036854775808 is larger");
}

BOOST_AUTO_TEST_CASE(invalid_json_is_rejected) {
  TempDir dir;
  expect_load_error(dir, safetensors_bytes(R"({"w": {"dtype": "F32",)", {}), "invalid JSON header");
  expect_load_error(dir, safetensors_bytes("[1, 2]", {}), "header is not a JSON object");
  expect_load_error(dir, safetensors_bytes("\xff\xfe", {}), "invalid JSON header");
}

BOOST_AUTO_TEST_CASE(unknown_and_unsupported_dtypes_are_rejected) {
  TempDir dir;
  expect_load_error(
      dir, safetensors_bytes(R"({"w":{"dtype":"XX","shape":[1],"data_offsets":[0,4]}})", Bytes(4)),
      "tensor 'w': unknown dtype 'XX' (modnorm reads F32, BF16 and F64)");
  expect_load_error(
      dir, safetensors_bytes(R"({"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})", Bytes(4)),
      "tensor 'w': unsupported dtype 'F16'");
  expect_load_error(
      dir, safetensors_bytes(R"({"w":{"dtype":32,"shape":[1],"data_offsets":[0,4]}})", Bytes(4)),
      "tensor 'w': \"dtype\" is missing or not a string");
}

BOOST_AUTO_TEST_CASE(malformed_entries_are_rejected) {
  TempDir dir;
  expect_load_error(dir, safetensors_bytes(R"({"w":[1,2]})", {}),
                    "tensor 'w': expected an object with dtype, shape and data_offsets");
  expect_load_error(dir,
                    safetensors_bytes(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", Bytes(4)),
                    "tensor 'w': \"shape\" is missing");
  expect_load_error(
      dir,
      safetensors_bytes(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", Bytes(4)),
      "shape [-1] is not a list of non-negative integers");
  expect_load_error(
      dir,
      safetensors_bytes(R"({"w":{"dtype":"F32","shape":[1,1,1,1,1],"data_offsets":[0,4]}})",
                        Bytes(4)),
      "has rank 5; modnorm tensors have rank 0-4");
  expect_load_error(
      dir, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", Bytes(4)),
      "\"data_offsets\" should be [begin, end]");
  expect_load_error(dir,
                    safetensors_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                      R"("w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                                      Bytes(4)),
                    "key 'w' appears twice in the header");
  expect_load_error(dir, safetensors_bytes(R"({"__metadata__":{"k":1}})", {}),
                    "\"__metadata__\" value of 'k' should be a string, got 1");
  expect_load_error(dir, safetensors_bytes(R"({"__metadata__":["k"]})", {}),
                    "\"__metadata__\" should map strings to strings");
}

BOOST_AUTO_TEST_CASE(a_shape_that_disagrees_with_its_offsets_is_rejected) {
  TempDir dir;
  expect_load_error(
      dir,
      safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", Bytes(24)),
      "tensor 'w': shape [2,3] of F32 needs 24 bytes but data_offsets [0, 20] hold 20");
  expect_load_error(
      dir,
      safetensors_bytes(R"({"w":{"dtype":"BF16","shape":[4],"data_offsets":[0,4]}})", Bytes(8)),
      "shape [4] of BF16 needs 8 bytes but data_offsets [0, 4] hold 4");
  // A product of dimensions that overflows 64 bits is refused (and must not wrap around).
  expect_load_error(dir,
                    safetensors_bytes(R"({"w":{"dtype":"F64","shape":[4294967296,4294967296],)"
                                      R"("data_offsets":[0,0]}})",
                                      {}),
                    "tensor 'w': shape [4294967296x4294967296] of 8-byte elements is larger than "
                    "the limit of 4611686018427387904 bytes per tensor");
}

BOOST_AUTO_TEST_CASE(a_shape_larger_than_the_limit_is_rejected_even_when_empty) {
  // Zero bytes agree with the offsets, but [2^62 x 4] would wrap in any tensor made from it.
  TempDir dir;
  expect_load_error(
      dir,
      safetensors_bytes(R"({"w":{"dtype":"F32","shape":[4611686018427387904,4,0],)"
                        R"("data_offsets":[0,0]}})",
                        {}),
      "tensor 'w': shape [4611686018427387904x4x0] of 4-byte elements is larger than the limit");
}

BOOST_AUTO_TEST_CASE(offsets_outside_the_data_are_rejected) {
  TempDir dir;
  expect_load_error(
      dir, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", Bytes(6)),
      "tensor 'w': data_offsets [0, 8] run past the 6 bytes of data after the header");
  expect_load_error(
      dir, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})", Bytes(8)),
      "data_offsets [8, 4] end before they begin");
}

BOOST_AUTO_TEST_CASE(overlapping_tensors_are_rejected_naming_both) {
  TempDir dir;
  expect_load_error(dir,
                    safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                      Bytes(12)),
                    "tensors 'a' [0, 8] and 'b' [4, 12] overlap");
  // Nested inside a long tensor, after a short one.
  expect_load_error(
      dir,
      safetensors_bytes(R"({"long":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                        R"("x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},)"
                        R"("y":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                        Bytes(16)),
      "tensors 'long' [0, 16] and 'x' [4, 8] overlap");
}

// ---- saving safely
// ---------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(bad_tensor_names_are_rejected_before_writing) {
  TempDir dir;
  const std::string path = dir.file("names.safetensors");
  const Tensor t = Tensor::zeros({2});
  expect_error(
      [&] {
        save_safetensors(path, {{"a", t}, {"", t}});
      },
      {"[save_safetensors] " + path + ": tensor 1 has an empty name"});
  expect_error(
      [&] {
        save_safetensors(path, {{"a", t}, {"b", t}, {"a", t}});
      },
      {"[save_safetensors] " + path + ": duplicate tensor name 'a'"});
  expect_error(
      [&] {
        save_safetensors(path, {{"__metadata__", t}});
      },
      {"tensor name '__metadata__' is reserved"});
  expect_error([&] { save_safetensors(path, {{"bad\xff", t}}); }, {"valid UTF-8"});
  BOOST_TEST(!fs::exists(path));
  BOOST_TEST(temp_files(dir.path).empty());
}

BOOST_AUTO_TEST_CASE(saving_into_a_missing_directory_throws_and_leaves_no_file) {
  TempDir dir;
  const std::string path = dir.file("no/such/dir/model.safetensors");
  expect_error(
      [&] {
        save_safetensors(path, {{"w", Tensor::zeros({2, 2})}});
      },
      {"[save_safetensors] " + path + ": cannot create " + path + ".tmp",
       "No such file or directory"});
  BOOST_TEST(!fs::exists(path));
  BOOST_TEST(!fs::exists(path + ".tmp"));
  BOOST_TEST(!fs::exists(dir.file("no")));
}

BOOST_AUTO_TEST_CASE(a_failed_save_leaves_the_existing_file_intact) {
  TempDir dir;
  const std::string path = dir.file("good.safetensors");
  save_safetensors(path, {{"w", Tensor::from_vector({1, 2, 3}, {3})}}, {{"step", "1"}});
  const Bytes before = read_bytes(path);

  // Writing the temporary file fails half-way (the file size limit): nothing changes, and the
  // partial temporary file is removed.
  {
    const FileSizeLimit limit(1024);
    expect_error(
        [&] {
          save_safetensors(path, {{"w", Tensor::zeros({5000})}});
        },
        {"[save_safetensors] " + path + ": cannot write " + path + ".tmp.", "File too large"});
  }
  BOOST_TEST(temp_files(dir.path).empty());
  // Rejected input: nothing changes either.
  expect_error(
      [&] {
        save_safetensors(path, {{"w", Tensor::zeros({5})}, {"w", Tensor::zeros({5})}});
      },
      {"duplicate tensor name 'w'"});

  BOOST_TEST(read_bytes(path) == before, boost::test_tools::per_element());
  const SafetensorsFile file = load_safetensors(path);
  BOOST_TEST((file.at("w").to_vector() == std::vector<float>{1, 2, 3}));
  BOOST_TEST(file.metadata.at("step") == "1");
}

BOOST_AUTO_TEST_CASE(a_failed_rename_removes_the_temporary_file) {
  TempDir dir;
  const std::string path = dir.file("occupied");
  fs::create_directories(fs::path(path) / "child");  // a non-empty directory cannot be replaced
  expect_error(
      [&] {
        save_safetensors(path, {{"w", Tensor::zeros({2})}});
      },
      {"[save_safetensors] " + path + ": cannot rename " + path + ".tmp.", " to it: "});
  BOOST_TEST(temp_files(dir.path).empty());
  BOOST_TEST(fs::is_directory(fs::path(path) / "child"));
}

BOOST_AUTO_TEST_CASE(saving_through_a_symbolic_link_writes_the_file_it_points_to) {
  TempDir dir;
  fs::create_directory(dir.path / "runs");
  const std::string target = dir.file("runs/model.safetensors");
  save_safetensors(target, {{"w", Tensor::full({2}, 1.0)}});
  const std::string link = dir.file("latest.safetensors");
  fs::create_symlink("runs/model.safetensors", link);  // relative to the link's directory

  save_safetensors(link, {{"w", Tensor::full({3}, 2.0)}});
  BOOST_TEST(fs::is_symlink(link));
  BOOST_TEST(fs::read_symlink(link) == fs::path("runs/model.safetensors"));
  BOOST_TEST((load_safetensors(target).at("w").to_vector() == std::vector<float>{2, 2, 2}));

  // A chain of links is followed to its end; a link to a missing file creates that file.
  const std::string chain = dir.file("chain.safetensors");
  fs::create_symlink(link, chain);  // absolute
  save_safetensors(chain, {{"w", Tensor::full({1}, 3.0)}});
  BOOST_TEST(fs::is_symlink(chain));
  BOOST_TEST(fs::is_symlink(link));
  BOOST_TEST((load_safetensors(target).at("w").to_vector() == std::vector<float>{3}));
  const std::string dangling = dir.file("next.safetensors");
  fs::create_symlink("runs/next.safetensors", dangling);
  save_safetensors(dangling, {{"v", Tensor::full({1}, 4.0)}});
  BOOST_TEST(fs::is_symlink(dangling));
  BOOST_TEST(fs::is_regular_file(dir.file("runs/next.safetensors")));
  BOOST_TEST((load_safetensors(dangling).at("v").to_vector() == std::vector<float>{4}));
  BOOST_TEST(temp_files(dir.path).empty());
}

BOOST_AUTO_TEST_CASE(concurrent_saves_to_one_path_never_fail) {
  // Two processes with two threads each save to one path: every save succeeds, and the file
  // is then one writer's complete checkpoint.
  TempDir dir;
  const std::string path = dir.file("shared.safetensors");
  constexpr int kProcesses = 2, kThreads = 2, kSaves = 25;
  std::vector<Tensor> contents;
  for (int w = 0; w < kProcesses * kThreads; ++w) contents.push_back(Tensor::full({1000}, w));

  // Returns the number of failed saves of writer `w`.
  auto save_many = [&](int w) {
    int failures = 0;
    for (int k = 0; k < kSaves; ++k) {
      try {
        save_safetensors(path, {{"w", contents[static_cast<std::size_t>(w)]}});
      } catch (const Error&) {
        ++failures;
      }
    }
    return failures;
  };
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    const pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {  // child: only async-signal-safe exits, no Boost.Test
      int failures[kThreads] = {};
      std::vector<std::thread> threads;
      for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] { failures[t] = save_many(p * kThreads + t); });
      for (auto& thread : threads) thread.join();
      int total = 0;
      for (int f : failures) total += f;
      ::_exit(total == 0 ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
    BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0), "a writer process had failures");
  }

  const std::vector<float> values = load_safetensors(path).at("w").to_vector();
  BOOST_REQUIRE(values.size() == 1000u);
  BOOST_TEST((values == std::vector<float>(1000, values[0])));
  BOOST_TEST(temp_files(dir.path).empty());
}

BOOST_AUTO_TEST_SUITE_END()
