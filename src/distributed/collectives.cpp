// The collectives of distributed.hpp on Tensors: each checks its input on this rank, then
// makes sure every rank called the same collective with agreeing tensors (one small
// max-reduction of a signature, so that a mismatch is an error on every rank instead of a hang
// or a wrong sum), then hands raw buffers to the engine and counts what it sent.
#include <chrono>
#include <climits>
#include <numeric>

#include "distributed/communicator.hpp"
#include "modnorm/error.hpp"

namespace modnorm::distributed {
namespace {

using detail::Communicator;

constexpr int kShapeEntries = 5;  // rank, then up to 4 dimensions (-1 past the rank)

// What every rank must agree on, as named integers; one fixed layout for every collective
// (kind, dtype, shape, root, then one count per rank) so that even two different collectives
// exchange signatures of the same length.
struct Signature {
  std::vector<std::pair<const char*, std::int64_t>> fields;
  Signature(int kind, const Tensor& x, bool with_dim0, int root,
            const std::vector<std::int64_t>& counts, int size) {
    fields.emplace_back("the collective called", kind);
    fields.emplace_back("the dtype", static_cast<std::int64_t>(x.dtype()));
    fields.emplace_back("the rank of the tensor", x.rank());
    for (int k = 0; k + 1 < kShapeEntries; ++k)
      fields.emplace_back("a dimension of the tensor",
                          k < x.rank() && (k > 0 || with_dim0) ? x.dim(k) : -1);
    fields.emplace_back("the root", root);
    for (int r = 0; r < size; ++r)
      fields.emplace_back("the counts", counts.empty() ? -1 : counts[static_cast<std::size_t>(r)]);
  }
};

std::string where(const Communicator& c) {
  return "rank " + std::to_string(c.rank()) + " of " + std::to_string(c.size()) + ": ";
}

// Throws on every rank if any rank's input was refused (`local_error`, "" when fine) or the
// signatures differ; with one process, just the local check.
void agree(Communicator& c, const char* op, const std::string& local_error,
           const Signature& signature) {
  if (c.size() == 1) {
    if (!local_error.empty()) fail(op, where(c) + local_error);
    return;
  }
  // [refused, s..., -s...]: one max gives whether any rank refused, and each field's max and min.
  const std::size_t n = signature.fields.size();
  std::vector<std::int64_t> v(1 + 2 * n, 0);
  v[0] = local_error.empty() ? 0 : 1;
  for (std::size_t i = 0; i < n; ++i) {
    v[1 + i] = signature.fields[i].second;
    v[1 + n + i] = -signature.fields[i].second;
  }
  // Timed as communication: the first exchange of a collective is where a rank waits for the
  // others to reach it.
  const auto start = std::chrono::steady_clock::now();
  c.max_int64(v, op);
  c.stats.seconds +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!local_error.empty()) fail(op, where(c) + local_error);
  if (v[0] > 0) fail(op, where(c) + "another rank's input was refused (its message says why)");
  for (std::size_t i = 0; i < n; ++i)
    if (v[1 + i] != -v[1 + n + i])
      fail(op, where(c) + "the ranks disagree on " + signature.fields[i].first + " (from " +
                   std::to_string(-v[1 + n + i]) + " to " + std::to_string(v[1 + i]) +
                   "; every rank must call the same collectives in the same order with agreeing "
                   "tensors)");
}

// "" or why this rank cannot take part with x.
std::string refuse(const Communicator& c, const Tensor& x, bool needs_axis) {
  if (c.transport() != Transport::single && x.device() != c.device())
    return std::string("a group on ") + to_string(c.transport()) + " takes " +
           to_string(c.device()) + " tensors, got " + x.describe();
  if (needs_axis && x.rank() == 0) return "needs a tensor of rank >= 1, got " + x.describe();
  if (x.numel() > INT_MAX)
    return "a message holds at most " + std::to_string(INT_MAX) + " elements, got " + x.describe();
  return "";
}

// "" or why `counts` cannot split `total` rows over the group (empty counts: equal blocks).
std::string refuse_counts(const Communicator& c, const std::vector<std::int64_t>& counts,
                          std::int64_t total) {
  if (counts.empty()) return "";
  if (counts.size() != static_cast<std::size_t>(c.size()))
    return "counts has " + std::to_string(counts.size()) + " entries for " +
           std::to_string(c.size()) + " ranks";
  for (const std::int64_t n : counts)
    if (n < 0) return "counts holds a negative entry " + std::to_string(n);
  const std::int64_t sum = std::accumulate(counts.begin(), counts.end(), std::int64_t{0});
  if (sum != total)
    return "counts sums to " + std::to_string(sum) + ", expected " + std::to_string(total);
  return "";
}

// Per-rank block lengths along axis 0: `counts`, or equal blocks of `total`.
std::vector<std::int64_t> blocks(const Communicator& c, const std::vector<std::int64_t>& counts,
                                 std::int64_t total) {
  if (!counts.empty()) return counts;
  return std::vector<std::int64_t>(static_cast<std::size_t>(c.size()), total / c.size());
}

Shape with_dim0(Shape shape, std::int64_t dim0) {
  shape[0] = dim0;
  return shape;
}

// Elements per row along axis 0 (the product of the other dimensions).
std::int64_t row_size(const Tensor& x) {
  std::int64_t n = 1;
  for (int k = 1; k < x.rank(); ++k) n *= x.dim(k);
  return n;
}

// Runs an engine call on x and out, adding its time and its bytes (ring model,
// distributed.hpp) to stats. If it throws (a timeout), the engine may still write the buffers,
// so the communicator keeps them.
template <typename F>
void timed(Communicator& c, const Tensor& x, const Tensor& out, std::int64_t bytes, F&& f) {
  const auto start = std::chrono::steady_clock::now();
  try {
    f();
  } catch (...) {
    c.abandoned.push_back(x);
    c.abandoned.push_back(out);
    throw;
  }
  c.stats.seconds +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  c.stats.bytes_sent += bytes;
  ++c.stats.calls;
}

enum Kind : int { kAllSum = 1, kSumScatter, kAllGather, kBroadcast };

}  // namespace

Tensor all_sum(const Tensor& x, const Group& group) {
  constexpr const char* op = "all_sum";
  Communicator& c = communicator(group);
  agree(c, op, refuse(c, x, false), Signature(kAllSum, x, true, -1, {}, c.size()));
  if (c.size() == 1) return x.clone();
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  const auto bytes = static_cast<std::int64_t>(x.nbytes());
  timed(c, x, out, 2 * (bytes - bytes / c.size()),
        [&] { c.all_sum(x.raw(), out.raw(), x.numel(), x.dtype(), op); });
  return out;
}

Tensor sum_scatter(const Tensor& x, const Group& group, const std::vector<std::int64_t>& counts) {
  constexpr const char* op = "sum_scatter";
  Communicator& c = communicator(group);
  std::string error = refuse(c, x, true);
  if (error.empty()) error = refuse_counts(c, counts, x.dim(0));
  if (error.empty() && counts.empty() && x.dim(0) % c.size() != 0)
    error = "x.dim(0) = " + std::to_string(x.dim(0)) + " does not divide into " +
            std::to_string(c.size()) + " equal blocks (pass counts)";
  agree(c, op, error, Signature(kSumScatter, x, true, -1, counts, c.size()));
  if (c.size() == 1) return x.clone();
  const std::vector<std::int64_t> rows = blocks(c, counts, x.dim(0));
  const std::int64_t per_row = row_size(x);
  std::vector<std::int64_t> elements;
  for (const std::int64_t r : rows) elements.push_back(r * per_row);
  const std::int64_t mine = rows[static_cast<std::size_t>(c.rank())];
  Tensor out = Tensor::empty(with_dim0(x.shape(), mine), x.dtype(), x.device());
  const auto item = static_cast<std::int64_t>(itemsize(x.dtype()));
  timed(c, x, out, (x.numel() - mine * per_row) * item,
        [&] { c.sum_scatter(x.raw(), out.raw(), elements, x.dtype(), op); });
  return out;
}

Tensor all_gather(const Tensor& x, const Group& group, const std::vector<std::int64_t>& counts) {
  constexpr const char* op = "all_gather";
  Communicator& c = communicator(group);
  std::string error = refuse(c, x, true);
  std::int64_t total = 0;
  if (error.empty()) {
    total = counts.empty() ? x.dim(0) * c.size()
                           : std::accumulate(counts.begin(), counts.end(), std::int64_t{0});
    error = refuse_counts(c, counts, total);
  }
  if (error.empty() && !counts.empty() && counts[static_cast<std::size_t>(c.rank())] != x.dim(0))
    error = "counts[" + std::to_string(c.rank()) +
            "] = " + std::to_string(counts[static_cast<std::size_t>(c.rank())]) + " but x is " +
            x.describe();
  if (error.empty() && total * row_size(x) > INT_MAX)
    error = "the gathered tensor would exceed " + std::to_string(INT_MAX) + " elements";
  // Without counts, dim 0 must agree too; with them, each rank's own dim 0 is its count.
  agree(c, op, error, Signature(kAllGather, x, counts.empty(), -1, counts, c.size()));
  if (c.size() == 1) return x.clone();
  const std::vector<std::int64_t> rows = blocks(c, counts, total);
  const std::int64_t per_row = row_size(x);
  std::vector<std::int64_t> elements;
  for (const std::int64_t r : rows) elements.push_back(r * per_row);
  Tensor out = Tensor::empty(with_dim0(x.shape(), total), x.dtype(), x.device());
  const std::size_t next = static_cast<std::size_t>((c.rank() + 1) % c.size());
  const auto item = static_cast<std::int64_t>(itemsize(x.dtype()));
  timed(c, x, out, (total - rows[next]) * per_row * item,
        [&] { c.all_gather(x.raw(), out.raw(), elements, x.dtype(), op); });
  return out;
}

Tensor broadcast(const Tensor& x, int root, const Group& group) {
  constexpr const char* op = "broadcast";
  Communicator& c = communicator(group);
  std::string error = refuse(c, x, false);
  if (error.empty() && (root < 0 || root >= c.size()))
    error =
        "root " + std::to_string(root) + " is not a rank of a group of " + std::to_string(c.size());
  agree(c, op, error, Signature(kBroadcast, x, true, root, {}, c.size()));
  Tensor out = x.clone();
  if (c.size() == 1) return out;
  // In a ring (pipelined) broadcast every rank but the one before the root forwards the data.
  const bool last = (c.rank() + 1) % c.size() == root;
  timed(c, x, out, last ? 0 : static_cast<std::int64_t>(x.nbytes()),
        [&] { c.broadcast(out.raw(), out.numel(), out.dtype(), root, op); });
  return out;
}

}  // namespace modnorm::distributed
