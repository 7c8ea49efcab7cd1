// modnorm::distributed::Group, init() and the one-process engine (distributed.hpp).
#include <algorithm>
#include <cstdlib>

#include "distributed/communicator.hpp"
#include "modnorm/error.hpp"

namespace modnorm::distributed {
namespace detail {
namespace {

// The group of one process: every collective is a copy.
class SingleCommunicator final : public Communicator {
 public:
  Transport transport() const override { return Transport::single; }
  Device device() const override { return Device::cpu; }
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::shared_ptr<Communicator> split(int, int) override {
    return std::make_shared<SingleCommunicator>();
  }
  void max_int64(std::vector<std::int64_t>&, const char*) override {}
  // The one-process collectives copy through Tensor ops (collectives.cpp), never through here.
  void all_sum(const void*, void*, std::int64_t, DType, const char* op) override { unused(op); }
  void sum_scatter(const void*, void*, const std::vector<std::int64_t>&, DType,
                   const char* op) override {
    unused(op);
  }
  void all_gather(const void*, void*, const std::vector<std::int64_t>&, DType,
                  const char* op) override {
    unused(op);
  }
  void broadcast(void*, std::int64_t, DType, int, const char* op) override { unused(op); }

 private:
  [[noreturn]] static void unused(const char* op) {
    modnorm::fail(op, "internal: the one-process group moves no bytes");
  }
};

}  // namespace

void fail_call(const char* op, int rank, int size, const char* call,
               const std::string& engine_error) {
  modnorm::fail(op, "rank " + std::to_string(rank) + " of " + std::to_string(size) + ": " + call +
                        " failed with " + engine_error);
}

void fail_timeout(const char* op, int rank, int size, const char* call, Seconds timeout) {
  modnorm::fail(
      op, "rank " + std::to_string(rank) + " of " + std::to_string(size) + ": " + call +
              " did not complete within " + std::to_string(timeout.count()) +
              " s (InitOptions::timeout_seconds): a peer rank died, hangs, or stopped calling "
              "the group's collectives in the same order");
}

bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}

}  // namespace detail

const char* to_string(Transport transport) {
  switch (transport) {
    case Transport::single:
      return "single";
    case Transport::mpi:
      return "mpi";
    case Transport::nccl:
      return "nccl";
  }
  return "unknown";
}

bool is_available(Transport transport) {
  switch (transport) {
    case Transport::single:
      return true;
    case Transport::mpi:
      return detail::mpi_built();
    case Transport::nccl:
      return detail::nccl_built();
  }
  return false;
}

Group::Group() : communicator_(std::make_shared<detail::SingleCommunicator>()) {}

Group::~Group() = default;

Group::Group(std::shared_ptr<detail::Communicator> communicator)
    : communicator_(std::move(communicator)) {}

int Group::rank() const {
  return communicator_->rank();
}

int Group::size() const {
  return communicator_->size();
}

Transport Group::transport() const {
  return communicator_->transport();
}

Stats Group::stats() const {
  return communicator_->stats;
}

Group Group::split(int color, int key) const {
  if (color < 0) modnorm::fail("Group.split", "color must be >= 0, got " + std::to_string(color));
  return Group(communicator_->split(color, key < 0 ? rank() : key));
}

detail::Communicator& communicator(const Group& group) {
  return *group.communicator_;
}

Group init(const InitOptions& options) {
  constexpr const char* op = "init";
  if (!(options.timeout_seconds > 0.0))
    modnorm::fail(op,
                  "timeout_seconds must be > 0, got " + std::to_string(options.timeout_seconds));
  const detail::Seconds timeout(options.timeout_seconds);
  const Transport transport = options.transport.value_or(
      detail::mpi_built() && detail::launched_by_mpi() ? Transport::mpi : Transport::single);
  switch (transport) {
    case Transport::single:
      return Group();
    case Transport::mpi:
      return Group(detail::mpi_world(timeout));
    case Transport::nccl:
      return Group(detail::nccl_world(timeout));
  }
  modnorm::fail(op, "unknown backend " + std::to_string(static_cast<int>(transport)));
}

Share share(std::int64_t n, const Group& group) {
  if (n < 0) modnorm::fail("share", "n must be >= 0, got " + std::to_string(n));
  const std::int64_t w = group.size(), r = group.rank();
  const std::int64_t base = n / w, extra = n % w;
  return {r * base + std::min(r, extra), base + (r < extra ? 1 : 0)};
}

}  // namespace modnorm::distributed
