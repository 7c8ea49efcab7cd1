// orthogonalize_rows against orthogonalize() of the whole matrix, run as one process
// by CTest (the rows cut into several pieces of one rank) and under mpirun -np 2 and 3 (each
// rank its share of the rows, in pieces): random, ill-conditioned, rank-deficient, tiny, square,
// one-column and zero tall matrices; and its errors, on every rank alike.
#include "distributed/distributed_support.hpp"
#include "dualize/dualize_support.hpp"
#include "modnorm/modnorm.hpp"

namespace dist = modnorm::distributed;
using namespace modnorm;
using modnorm::test::shared_seed;
using modnorm::test::world;

namespace {

using modnorm::test::MatD;

Tensor ones(Shape shape) {
  return Tensor::full(std::move(shape), 1.0);
}

// This rank's rows of x (its share), cut into three pieces of uneven height (some may be empty).
std::vector<Tensor> my_pieces(const Tensor& x) {
  const dist::Share part = dist::share(x.dim(0), world());
  const std::int64_t cuts[] = {part.begin, part.begin + part.count / 3,
                               part.begin + (2 * part.count) / 3 + 1, part.begin + part.count};
  std::vector<Tensor> pieces;
  for (int k = 0; k < 3; ++k) {
    const std::int64_t from = std::min(cuts[k], cuts[3]), to = std::min(cuts[k + 1], cuts[3]);
    std::vector<std::int32_t> ids;
    for (std::int64_t r = from; r < to; ++r) ids.push_back(static_cast<std::int32_t>(r));
    pieces.push_back(gather_rows(x, Tensor::from_vector_i32(ids, {to - from})));
  }
  return pieces;
}

// The rows of this rank's pieces of orthogonalize_rows, and the same rows of orthogonalize(x).
std::pair<std::vector<double>, std::vector<double>> split_and_whole(
    const Tensor& x, const OrthogonalizeOptions& options) {
  const dist::Share part = dist::share(x.dim(0), world());
  std::vector<double> split;
  for (const Tensor& piece : modnorm::orthogonalize_rows(my_pieces(x), world(), options)) {
    const std::vector<double> v = piece.to_vector_f64();
    split.insert(split.end(), v.begin(), v.end());
  }
  const std::vector<double> all = orthogonalize(x, options).to_vector_f64();
  const std::vector<double> whole(all.begin() + part.begin * x.dim(1),
                                  all.begin() + (part.begin + part.count) * x.dim(1));
  return {split, whole};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(orthogonalize_rows)

BOOST_AUTO_TEST_CASE(equals_orthogonalize_of_the_whole_matrix) {
  const std::uint64_t seed = shared_seed();
  Generator gen(seed);
  using modnorm::test::gaussian;
  const std::vector<std::pair<std::string, MatD>> cases = {
      {"random 300x40", gaussian(300, 40, gen)},
      {"rank-deficient 200x30 (rank 6)", gaussian(200, 6, gen) * gaussian(6, 30, gen)},
      {"condition 1e6 180x40",
       modnorm::test::with_spectrum(180, 40, modnorm::test::log_spaced(40, 6), gen).matrix()},
      {"tiny values 1e-30 150x20", 1e-30 * gaussian(150, 20, gen)},
      {"square 64x64", gaussian(64, 64, gen)},
      {"one column 37x1", gaussian(37, 1, gen)},
      {"zero 50x10", MatD::Zero(50, 10)}};
  for (const auto& [name, g] : cases) {
    for (const OrthogonalizeMethod method :
         {OrthogonalizeMethod::quintic, OrthogonalizeMethod::polar_express}) {
      // f64 iterates: only the order of the sums differs. f32: on well-conditioned inputs only
      // (rounding in a null space or below the smallest singular values is amplified).
      OrthogonalizeOptions f64 = modnorm::test::with_method(method, DType::f64);
      const auto [split, whole] = split_and_whole(modnorm::test::from_eigen(g, DType::f64), f64);
      BOOST_TEST_INFO("seed " << seed << ", " << world().size() << " ranks, " << name << ", "
                              << to_string(method));
      BOOST_TEST(modnorm::test::max_abs_diff(split, whole) <= 1e-10);
      if (name.rfind("random", 0) == 0 || name.rfind("square", 0) == 0) {
        const auto [split32, whole32] =
            split_and_whole(modnorm::test::from_eigen(g), modnorm::test::with_method(method));
        BOOST_TEST(modnorm::test::max_abs_diff(split32, whole32) <= 1e-4);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_input_is_an_error_on_every_rank) {
  const auto fails_with = [](const std::vector<Tensor>& pieces, const OrthogonalizeOptions& o,
                             const std::string& text) {
    BOOST_CHECK_EXCEPTION(modnorm::orthogonalize_rows(pieces, world(), o), Error,
                          [&](const Error& e) {
                            const std::string what = e.what();
                            BOOST_TEST_INFO(what);
                            return what.find("[orthogonalize_rows]") != std::string::npos &&
                                   what.find(text) != std::string::npos;
                          });
  };
  // Wide in all: every rank holds 2 of the rows of a [2 W, 3 W] matrix.
  const std::int64_t w = world().size();
  fails_with({ones({2, 3 * w})}, {}, "must be tall");
  OrthogonalizeOptions svd;
  svd.method = OrthogonalizeMethod::svd;
  fails_with({ones({4, 2})}, svd, "Newton-Schulz method");
  OrthogonalizeOptions bf16;
  bf16.compute_dtype = DType::bf16;
  fails_with({ones({4, 2})}, bf16, "bf16");
  fails_with({ones({4, 2}), ones({4, 3})}, {}, "one width");
  fails_with({}, {}, "at least one piece");
  Tensor nan = ones({4, 2});
  fill(nan, std::nan(""));
  fails_with({nan}, {}, "NaN");
}

BOOST_AUTO_TEST_SUITE_END()
