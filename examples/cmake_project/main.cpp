// Links the installed modnorm and checks a product end to end; exits non-zero on a mismatch.
#include <cmath>
#include <iostream>
#include <modnorm/modnorm.hpp>

int main() {
  auto a = modnorm::Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  auto b = modnorm::Tensor::from_vector({1, 0, 0, 1, 1, 1}, {3, 2});
  auto c = modnorm::matmul(a, b).to_vector();  // [[4, 5], [10, 11]]
  std::cout << "modnorm " << modnorm::version() << ": a b = " << modnorm::matmul(a, b) << "\n";
  const float expected[] = {4, 5, 10, 11};
  for (int i = 0; i < 4; ++i)
    if (std::abs(c[i] - expected[i]) > 1e-6f) return 1;
  return 0;
}
