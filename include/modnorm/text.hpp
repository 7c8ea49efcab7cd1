#pragma once
/// @file text.hpp
/// Character-level language-model data: a UTF-8 text file split into training and validation
/// parts, a character vocabulary, and batches of windows of token ids (docs/training.md,
/// "A character-level GPT").

#include <cstdint>
#include <string>
#include <vector>

#include "modnorm/export.hpp"
#include "modnorm/generator.hpp"
#include "modnorm/tensor.hpp"

namespace modnorm {

/// The characters of a corpus (Unicode code points), sorted; a token id is an index into it.
///
/// Example:
///   modnorm::Vocabulary v = modnorm::Vocabulary::of(modnorm::decode_utf8("abba", "example"));
///   // v.size() == 2, v.encode(U"ab") == {0, 1}, v.decode({1, 0}) == "ba"
class MODNORM_API Vocabulary {
 public:
  /// The distinct code points of `text`, sorted. Throws modnorm::Error for an empty text.
  static Vocabulary of(const std::u32string& text);
  /// The vocabulary `characters` (sorted or not; duplicates are an error), as stored in a
  /// checkpoint. Throws modnorm::Error for an empty list or a repeated character.
  explicit Vocabulary(std::u32string characters);

  /// Number of characters (the model's vocab).
  std::int64_t size() const { return static_cast<std::int64_t>(characters_.size()); }
  /// The characters in id order.
  const std::u32string& characters() const { return characters_; }
  /// Token ids of `text`. Throws modnorm::Error naming the first character that is not in the
  /// vocabulary (quoted and as U+XXXX) and its position, prefixed by `what`.
  std::vector<std::int32_t> encode(const std::u32string& text,
                                   const std::string& what = "[Vocabulary::encode]") const;
  /// UTF-8 text of token ids. Throws modnorm::Error for an id outside [0, size()).
  std::string decode(const std::vector<std::int32_t>& ids) const;

 private:
  std::u32string characters_;
};

/// The code points of UTF-8 `bytes`. Throws modnorm::Error, `<what>: ...`, at the first invalid
/// sequence (overlong forms, surrogates and values above U+10FFFF included), naming its byte
/// offset.
MODNORM_API std::u32string decode_utf8(const std::string& bytes, const std::string& what);

/// UTF-8 bytes of code points (each must be a valid scalar value; throws modnorm::Error if not).
MODNORM_API std::string encode_utf8(const std::u32string& text);

/// A text corpus as token ids: the first (1 - validation_fraction) of its characters for
/// training, the rest for validation, and the vocabulary of the training part.
struct TextCorpus {
  Vocabulary vocabulary;                 ///< characters of the training part
  std::vector<std::int32_t> train;       ///< ids of the training part
  std::vector<std::int32_t> validation;  ///< ids of the validation part
};

/// The largest text load_text reads, in bytes (256 MiB; the corpus then takes about 9 bytes of
/// memory per byte: its code points and its ids).
constexpr std::int64_t kMaxTextBytes = std::int64_t{1} << 28;

/// Reads the UTF-8 (or ASCII) file at `path` and splits it: the last `validation_fraction` of
/// its characters (rounded down) are the validation part. The vocabulary is that of the
/// training part. Throws modnorm::Error, `[load_text] <path>: ...`, naming the reason, for a
/// directory, a file that cannot be opened or read, one over kMaxTextBytes (a regular file by
/// its size, before reading; a device or stream once that much was read without an end), an
/// empty file, invalid UTF-8, a fraction outside [0, 1), a part shorter than `min_part`
/// characters, or a validation character that the training part lacks (named).
///
/// Example:
///   modnorm::TextCorpus kjv = modnorm::load_text(modnorm::default_kjv_path());
///   // kjv.vocabulary.size() == 63: letters, punctuation, space and newline
MODNORM_API TextCorpus load_text(const std::string& path, double validation_fraction = 0.1,
                                 std::int64_t min_part = 2);

/// Where scripts/setup leaves the King James Bible as plain text (one verse per line, without
/// the verse references): $MODNORM_KJV if set, else
/// ${XDG_CACHE_HOME:-$HOME/.cache}/modnorm/kjv.txt.
MODNORM_API std::string default_kjv_path();

/// A batch of windows for next-token prediction: `inputs` [B x T] i32 ids on the CPU and their
/// targets [B x T] i32 (each input's next id), the labels softmax_cross_entropy takes for the
/// [B*T x vocab] logits.
struct TokenBatch {
  Tensor inputs;   ///< [B x T] i32
  Tensor targets;  ///< [B x T] i32, targets[b, t] = ids[offset_b + t + 1]
};

/// The windows of `ids` starting at `offsets`, each `context` ids long (and its targets one
/// further). Throws modnorm::Error if a window runs past the end, or if offsets is empty or
/// context < 1.
MODNORM_API TokenBatch window_batch(const std::vector<std::int32_t>& ids,
                                    const std::vector<std::int64_t>& offsets, std::int64_t context);

/// `batch` offsets drawn uniformly from [0, ids - context - 1] with gen.below (in this order),
/// the batch of random windows that training uses. Throws modnorm::Error if the text is not
/// longer than context.
///
/// Example:
///   modnorm::Generator order(1);
///   auto offsets = modnorm::random_offsets(kjv.train.size(), 12, 64, order);
///   modnorm::TokenBatch b = modnorm::window_batch(kjv.train, offsets, 64);
MODNORM_API std::vector<std::int64_t> random_offsets(std::int64_t ids, std::int64_t batch,
                                                     std::int64_t context, Generator& gen);

}  // namespace modnorm
