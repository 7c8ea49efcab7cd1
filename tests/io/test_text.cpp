// Character-level text data: UTF-8 both ways, the vocabulary, the corpus split, windows.
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "modnorm/text.hpp"
#include "support.hpp"

using namespace modnorm;
using modnorm::test::expect_error;
using modnorm::test::TempDir;

namespace {

std::string write(const TempDir& dir, const std::string& name, const std::string& bytes) {
  const std::string path = dir.file(name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(text)

BOOST_AUTO_TEST_CASE(utf8_round_trips_every_length_and_the_edges) {
  MODNORM_FRESH_GENERATOR(gen);
  std::u32string text = U"a\u007f\u0080\u07ff\u0800\uffff\U00010000\U0010ffff\u00e9\u4e2d";
  for (int k = 0; k < 2000; ++k) {  // random scalar values of every UTF-8 length
    char32_t c = static_cast<char32_t>(gen.below(0x110000));
    if (c >= 0xD800 && c <= 0xDFFF) c = 0x20;
    text.push_back(c);
  }
  const std::string bytes = encode_utf8(text);
  BOOST_TEST((decode_utf8(bytes, "test") == text));
  BOOST_TEST(encode_utf8(U"\u00e9") == "\xc3\xa9");  // the known encoding, not only a round trip
  BOOST_TEST(encode_utf8(U"\U0001F600") == "\xf0\x9f\x98\x80");
}

BOOST_AUTO_TEST_CASE(invalid_utf8_is_an_error_naming_the_byte) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"ab\x80", "byte 2"},            // a continuation byte first
      {"\xc0\x80", "byte 0"},          // overlong NUL
      {"x\xe0\x80\xaf", "byte 1"},     // overlong '/'
      {"\xed\xa0\x80", "byte 0"},      // a surrogate
      {"\xf4\x90\x80\x80", "byte 0"},  // above U+10FFFF
      {"\xf5\x80\x80\x80", "byte 0"},  // no such lead byte
      {"abc\xe4\xb8", "byte 3"},       // truncated at the end
      {"\xe4\x41\x41", "byte 0"}};     // a lead byte without its continuation
  for (const auto& [bytes, where] : bad)
    expect_error([&] { decode_utf8(bytes, "[here]"); }, {"[here]", "invalid UTF-8", where});
  expect_error([] { encode_utf8(std::u32string(1, char32_t{0xD800})); }, {"scalar value"});
}

BOOST_AUTO_TEST_CASE(vocabulary_encodes_and_decodes_in_its_own_order) {
  const Vocabulary sorted = Vocabulary::of(U"hello world");
  BOOST_TEST(sorted.size() == 8);  // ' ', d, e, h, l, o, r, w
  BOOST_TEST((sorted.encode(U"hold") == std::vector<std::int32_t>{3, 5, 4, 1}));
  BOOST_TEST(sorted.decode(sorted.encode(U"world hello")) == "world hello");
  const Vocabulary stored(U"zé a");  // as a checkpoint stores it: any order, ids by position
  BOOST_TEST((stored.encode(U"a zé") == std::vector<std::int32_t>{3, 2, 0, 1}));
  BOOST_TEST(stored.decode({1, 0}) == "\xc3\xa9z");
  expect_error([&] { sorted.encode(U"help", "[sample] --prompt"); },
               {"[sample] --prompt", "'p'", "U+0070", "position 3"});
  expect_error([&] { sorted.encode(U"hex"); }, {"'x' (U+0078)", "position 2", "8 characters"});
  expect_error([&] { sorted.decode({8}); }, {"id 8", "[0, 8)"});
  expect_error([&] { sorted.decode({-1}); }, {"id -1"});
  expect_error([] { Vocabulary(U"abca"); }, {"'a'", "twice"});
  expect_error([] { Vocabulary(U""); }, {"no characters"});
  expect_error([] { Vocabulary::of(U""); }, {"empty"});
}

BOOST_AUTO_TEST_CASE(load_text_splits_the_last_tenth_off_for_validation) {
  TempDir dir;
  std::string text;
  for (int k = 0; k < 100; ++k) text += static_cast<char>('a' + k % 7);
  text.replace(95, 1, "\xc3\xa9");  // a 2-byte character: the split counts characters
  text.replace(3, 1, "\xc3\xa9");
  const TextCorpus c = load_text(write(dir, "t.txt", text));
  BOOST_TEST(c.train.size() + c.validation.size() == 100u);
  BOOST_TEST(c.validation.size() == 10u);
  BOOST_TEST(c.vocabulary.size() == 8);
  BOOST_TEST(c.vocabulary.decode(c.train) + c.vocabulary.decode(c.validation) == text);
  BOOST_TEST(load_text(write(dir, "u.txt", text), 0.0).validation.empty());
}

BOOST_AUTO_TEST_CASE(load_text_refuses_what_it_cannot_use) {
  TempDir dir;
  expect_error([&] { load_text(dir.file("missing.txt")); }, {"missing.txt", "cannot open"});
  expect_error([&] { load_text(write(dir, "e.txt", "")); }, {"e.txt", "empty"});
  expect_error([&] { load_text(write(dir, "b.txt", "abc\xff")); }, {"b.txt", "invalid UTF-8"});
  expect_error([&] { load_text(write(dir, "s.txt", "abc")); }, {"s.txt", "at least 2"});
  // The validation part's 'z' never occurs in training: named, not mapped to some other id.
  expect_error([&] { load_text(write(dir, "z.txt", "abababababababababababababzz")); },
               {"z.txt", "validation part", "'z'"});
  expect_error([&] { load_text(write(dir, "f.txt", "abab"), 1.0); }, {"fraction"});
}

// What is not a text file of a bounded size is named with the reason, before it fills memory: a
// directory, a regular file over kMaxTextBytes (by its size, unread: a sparse file here), a
// device without an end.
BOOST_AUTO_TEST_CASE(load_text_names_a_directory_a_huge_file_and_an_endless_device) {
  TempDir dir;
  expect_error([&] { load_text(dir.file("")); }, {"[load_text]", "is a directory"});
  const std::string huge = dir.file("huge.txt");
  std::ofstream(huge, std::ios::binary) << "ab";
  std::filesystem::resize_file(huge, kMaxTextBytes + 1);
  expect_error([&] { load_text(huge); },
               {"huge.txt", "the file has " + std::to_string(kMaxTextBytes + 1) + " bytes",
                "more than " + std::to_string(kMaxTextBytes) + " bytes"});
  expect_error([&] { load_text("/dev/zero"); },
               {"[load_text] /dev/zero", "not a regular file",
                "more than " + std::to_string(kMaxTextBytes) + " bytes", "without an end"});
}

BOOST_AUTO_TEST_CASE(windows_hold_inputs_and_their_next_ids) {
  std::vector<std::int32_t> ids(50);
  for (int k = 0; k < 50; ++k) ids[static_cast<std::size_t>(k)] = k;
  const TokenBatch b = window_batch(ids, {0, 7, 44}, 5);
  BOOST_TEST((b.inputs.shape() == Shape{3, 5}));
  BOOST_TEST(b.inputs.dtype() == DType::i32);
  BOOST_TEST((b.targets.shape() == Shape{3, 5}));
  BOOST_TEST(b.targets.dtype() == DType::i32);
  const std::vector<float> x = b.inputs.to_vector(), y = b.targets.to_vector();
  for (int r = 0; r < 3; ++r)
    for (int t = 0; t < 5; ++t) {
      const int offset = std::vector<int>{0, 7, 44}[static_cast<std::size_t>(r)];
      BOOST_TEST(x[static_cast<std::size_t>(r * 5 + t)] == offset + t);
      BOOST_TEST(y[static_cast<std::size_t>(r * 5 + t)] == offset + t + 1);
    }
  expect_error([&] { window_batch(ids, {45}, 5); }, {"offset 45", "50 ids"});
  expect_error([&] { window_batch(ids, {}, 5); }, {"at least one offset"});

  Generator a(3), again(3);
  const auto offsets = random_offsets(50, 1000, 5, a);
  BOOST_TEST(offsets == random_offsets(50, 1000, 5, again));  // the seed fixes the order
  std::int64_t lo = 100, hi = -1;
  for (const auto o : offsets) lo = std::min(lo, o), hi = std::max(hi, o);
  BOOST_TEST(lo == 0);
  BOOST_TEST(hi == 44);  // every window fits, and the last one is reachable
  expect_error([&] { random_offsets(5, 2, 5, a); }, {"5 ids", "context 5"});
}

BOOST_AUTO_TEST_SUITE_END()
