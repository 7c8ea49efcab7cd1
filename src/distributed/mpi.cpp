// The MPI engine of modnorm::distributed (CPU tensors). MPI is started on the first init()
// (MPI_Init_thread, FUNNELED: only the calling thread talks to MPI; OpenMP threads never do)
// and finalized at exit unless the program started it itself. Errors return instead of
// aborting (MPI_ERRORS_RETURN) and become modnorm::Error; collectives are the non-blocking ones,
// polled until done or until the timeout, so that a rank that stopped calling them makes the
// others throw instead of waiting forever.
#include <mpi.h>

#include <cstdlib>
#include <cstring>
#include <thread>

#include "distributed/communicator.hpp"
#include "modnorm/error.hpp"
#include "modnorm/tensor.hpp"

namespace modnorm::distributed::detail {
namespace {

std::string mpi_error(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
  return "MPI error " + std::to_string(code) + " (" + std::string(text, length) + ")";
}

// bf16 sums: MPI has no bf16, so bf16 travels as 16-bit words with this reduction (each
// addition in float, rounded once to bf16, like the CPU backend's bf16 arithmetic).
void bf16_sum(void* in, void* inout, int* count, MPI_Datatype*) {
  const auto* a = static_cast<const std::uint16_t*>(in);
  auto* b = static_cast<std::uint16_t*>(inout);
  for (int i = 0; i < *count; ++i) b[i] = float_to_bf16(bf16_to_float(a[i]) + bf16_to_float(b[i]));
}

// The process's MPI: started once, finalized at exit (a function-local static, like the
// backends). MPI is per process, so this is the one place that state is global.
class Runtime {
 public:
  static Runtime& get() {
    static Runtime runtime;
    return runtime;
  }
  MPI_Op bf16_op() const { return bf16_op_; }

 private:
  Runtime() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      const int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
      if (rc != MPI_SUCCESS) fail_call("init", 0, 1, "MPI_Init_thread", mpi_error(rc));
      owned_ = true;
    }
    MPI_Op_create(&bf16_sum, 1, &bf16_op_);
  }
  ~Runtime() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized) return;
    MPI_Op_free(&bf16_op_);
    if (owned_) MPI_Finalize();
  }
  bool owned_ = false;
  MPI_Op bf16_op_ = MPI_OP_NULL;
};

MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return MPI_FLOAT;
    case DType::f64:
      return MPI_DOUBLE;
    case DType::i32:
      return MPI_INT32_T;
    case DType::bf16:
      return MPI_UINT16_T;
  }
  return MPI_BYTE;
}

MPI_Op sum_op(DType dtype) {
  return dtype == DType::bf16 ? Runtime::get().bf16_op() : MPI_SUM;
}

// Element counts and offsets as MPI's int (group.cpp keeps every message below 2^31 elements).
std::vector<int> as_int(const std::vector<std::int64_t>& v) {
  return std::vector<int>(v.begin(), v.end());
}

std::vector<int> offsets(const std::vector<int>& counts) {
  std::vector<int> out(counts.size(), 0);
  for (std::size_t r = 1; r < counts.size(); ++r) out[r] = out[r - 1] + counts[r - 1];
  return out;
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(MPI_Comm comm, Seconds timeout) : comm_(comm), timeout_(timeout) {
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && comm_ != MPI_COMM_WORLD) MPI_Comm_free(&comm_);
  }
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  Transport transport() const override { return Transport::mpi; }
  Device device() const override { return Device::cpu; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  std::shared_ptr<Communicator> split(int color, int key) override {
    MPI_Comm out = MPI_COMM_NULL;
    check(MPI_Comm_split(comm_, color, key, &out), "split", "MPI_Comm_split");
    return std::make_shared<MpiCommunicator>(out, timeout_);
  }

  void max_int64(std::vector<std::int64_t>& values, const char* op) override {
    MPI_Request request = MPI_REQUEST_NULL;
    check(MPI_Iallreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_INT64_T,
                         MPI_MAX, comm_, &request),
          op, "MPI_Iallreduce");
    wait(request, op, "MPI_Iallreduce");
  }

  void all_sum(const void* in, void* out, std::int64_t count, DType dtype,
               const char* op) override {
    MPI_Request request = MPI_REQUEST_NULL;
    check(MPI_Iallreduce(in == out ? MPI_IN_PLACE : in, out, static_cast<int>(count),
                         mpi_type(dtype), sum_op(dtype), comm_, &request),
          op, "MPI_Iallreduce");
    wait(request, op, "MPI_Iallreduce");
  }

  void sum_scatter(const void* in, void* out, const std::vector<std::int64_t>& counts, DType dtype,
                   const char* op) override {
    const std::vector<int> n = as_int(counts);
    MPI_Request request = MPI_REQUEST_NULL;
    check(MPI_Ireduce_scatter(in, out, n.data(), mpi_type(dtype), sum_op(dtype), comm_, &request),
          op, "MPI_Ireduce_scatter");
    wait(request, op, "MPI_Ireduce_scatter");
  }

  void all_gather(const void* in, void* out, const std::vector<std::int64_t>& counts, DType dtype,
                  const char* op) override {
    const std::vector<int> n = as_int(counts);
    const std::vector<int> at = offsets(n);
    MPI_Request request = MPI_REQUEST_NULL;
    check(MPI_Iallgatherv(in, n[static_cast<std::size_t>(rank_)], mpi_type(dtype), out, n.data(),
                          at.data(), mpi_type(dtype), comm_, &request),
          op, "MPI_Iallgatherv");
    wait(request, op, "MPI_Iallgatherv");
  }

  void broadcast(void* buffer, std::int64_t count, DType dtype, int root, const char* op) override {
    MPI_Request request = MPI_REQUEST_NULL;
    check(MPI_Ibcast(buffer, static_cast<int>(count), mpi_type(dtype), root, comm_, &request), op,
          "MPI_Ibcast");
    wait(request, op, "MPI_Ibcast");
  }

 private:
  void check(int rc, const char* op, const char* call) const {
    if (rc != MPI_SUCCESS) fail_call(op, rank_, size_, call, mpi_error(rc));
  }

  // Polls the request until it completes, the engine reports an error, or the timeout passes.
  // Spinning first keeps small collectives fast; sleeping after that leaves the core to the
  // rank still computing (ranks may share cores: mpirun --oversubscribe).
  void wait(MPI_Request& request, const char* op, const char* call) const {
    const auto start = std::chrono::steady_clock::now();
    for (long polls = 0;; ++polls) {
      int done = 0;
      check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), op, call);
      if (done) return;
      if (polls < 1000) continue;
      if (std::chrono::steady_clock::now() - start > timeout_)
        fail_timeout(op, rank_, size_, call, timeout_);
      std::this_thread::sleep_for(std::chrono::microseconds(polls < 10000 ? 20 : 500));
    }
  }

  MPI_Comm comm_;
  Seconds timeout_;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace

bool mpi_built() {
  return true;
}

std::shared_ptr<Communicator> mpi_world(Seconds timeout) {
  Runtime::get();
  return std::make_shared<MpiCommunicator>(MPI_COMM_WORLD, timeout);
}

}  // namespace modnorm::distributed::detail
