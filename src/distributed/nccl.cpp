// The NCCL engine of modnorm::distributed (CUDA tensors, one GPU per rank), started over MPI:
// rank 0's ncclUniqueId is broadcast through MPI_COMM_WORLD, each rank takes GPU (rank mod
// device count) and joins. Collectives are enqueued on the CUDA backend's one stream, so they
// are ordered with every other kernel; the communicator is non-blocking (ncclConfig_t) and a
// collective is awaited by polling the stream and ncclCommGetAsyncError until the timeout, after
// which the communicator is aborted and modnorm::Error thrown. The checks between ranks and
// split() run on the MPI communicator kept beside the NCCL one.
#include <cuda_runtime.h>
#include <nccl.h>

#include <thread>

#include "cuda/cuda_backend.hpp"
#include "distributed/communicator.hpp"
#include "modnorm/error.hpp"

namespace modnorm::distributed::detail {
namespace {

std::string nccl_error(ncclResult_t code, ncclComm_t comm) {
  std::string text =
      "NCCL error " + std::to_string(static_cast<int>(code)) + " (" + ncclGetErrorString(code);
  if (comm != nullptr) {
    const char* last = ncclGetLastError(comm);
    if (last != nullptr && *last != '\0') text += ": " + std::string(last);
  }
  return text + ")";
}

ncclDataType_t nccl_type(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return ncclFloat32;
    case DType::f64:
      return ncclFloat64;
    case DType::i32:
      return ncclInt32;
    case DType::bf16:
      return ncclBfloat16;
  }
  return ncclUint8;
}

cudaStream_t backend_stream(const char* op) {
  return static_cast<modnorm::detail::CudaBackend&>(modnorm::detail::cuda_backend(op)).stream();
}

class NcclCommunicator final : public Communicator {
 public:
  // Joins (or, with a parent, splits into) a non-blocking NCCL communicator; `host` is the MPI
  // communicator over the same ranks.
  NcclCommunicator(std::shared_ptr<Communicator> host, Seconds timeout)
      : host_(std::move(host)), timeout_(timeout), stream_(backend_stream("init")) {}

  static std::shared_ptr<NcclCommunicator> join(std::shared_ptr<Communicator> host,
                                                Seconds timeout) {
    auto self = std::make_shared<NcclCommunicator>(std::move(host), timeout);
    ncclUniqueId id{};
    if (self->rank() == 0) self->check(ncclGetUniqueId(&id), "init", "ncclGetUniqueId");
    static_assert(sizeof(id) % sizeof(std::int32_t) == 0);
    self->host_->broadcast(&id, sizeof(id) / sizeof(std::int32_t), DType::i32, 0, "init");
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    self->check(ncclCommInitRankConfig(&self->comm_, self->size(), id, self->rank(), &config),
                "init", "ncclCommInitRankConfig");
    self->wait("init", "ncclCommInitRankConfig");
    return self;
  }

  ~NcclCommunicator() override {
    if (comm_ != nullptr) ncclCommDestroy(comm_);
  }
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  Transport transport() const override { return Transport::nccl; }
  Device device() const override { return Device::cuda; }
  int rank() const override { return host_->rank(); }
  int size() const override { return host_->size(); }

  std::shared_ptr<Communicator> split(int color, int key) override {
    auto out = std::make_shared<NcclCommunicator>(host_->split(color, key), timeout_);
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    check(ncclCommSplit(comm_, color, key, &out->comm_, &config), "split", "ncclCommSplit");
    out->wait("split", "ncclCommSplit");
    return out;
  }

  void max_int64(std::vector<std::int64_t>& values, const char* op) override {
    host_->max_int64(values, op);
  }

  void all_sum(const void* in, void* out, std::int64_t count, DType dtype,
               const char* op) override {
    check(ncclAllReduce(in, out, static_cast<std::size_t>(count), nccl_type(dtype), ncclSum, comm_,
                        stream_),
          op, "ncclAllReduce");
    wait(op, "ncclAllReduce");
  }

  // NCCL's reduce-scatter and all-gather take equal blocks; uneven ones are a group of
  // per-root reduces and broadcasts (each rank's block from its offset).
  void sum_scatter(const void* in, void* out, const std::vector<std::int64_t>& counts, DType dtype,
                   const char* op) override {
    const std::size_t item = itemsize(dtype);
    check(ncclGroupStart(), op, "ncclGroupStart");
    std::size_t offset = 0;
    for (int r = 0; r < size(); ++r) {
      const auto n = static_cast<std::size_t>(counts[static_cast<std::size_t>(r)]);
      const void* block = static_cast<const char*>(in) + offset * item;
      check(ncclReduce(block, r == rank() ? out : nullptr, n, nccl_type(dtype), ncclSum, r, comm_,
                       stream_),
            op, "ncclReduce");
      offset += n;
    }
    check(ncclGroupEnd(), op, "ncclGroupEnd");
    wait(op, "ncclReduce");
  }

  void all_gather(const void* in, void* out, const std::vector<std::int64_t>& counts, DType dtype,
                  const char* op) override {
    const std::size_t item = itemsize(dtype);
    check(ncclGroupStart(), op, "ncclGroupStart");
    std::size_t offset = 0;
    for (int r = 0; r < size(); ++r) {
      const auto n = static_cast<std::size_t>(counts[static_cast<std::size_t>(r)]);
      void* block = static_cast<char*>(out) + offset * item;
      check(ncclBroadcast(r == rank() ? in : block, block, n, nccl_type(dtype), r, comm_, stream_),
            op, "ncclBroadcast");
      offset += n;
    }
    check(ncclGroupEnd(), op, "ncclGroupEnd");
    wait(op, "ncclBroadcast");
  }

  void broadcast(void* buffer, std::int64_t count, DType dtype, int root, const char* op) override {
    check(ncclBroadcast(buffer, buffer, static_cast<std::size_t>(count), nccl_type(dtype), root,
                        comm_, stream_),
          op, "ncclBroadcast");
    wait(op, "ncclBroadcast");
  }

 private:
  void check(ncclResult_t rc, const char* op, const char* call) const {
    if (rc != ncclSuccess && rc != ncclInProgress)
      fail_call(op, rank(), size(), call, nccl_error(rc, comm_));
  }

  // Until the communicator is ready and the stream has run everything enqueued, polling NCCL's
  // asynchronous error; on timeout the communicator is aborted (its collectives cannot finish).
  void wait(const char* op, const char* call) {
    const auto start = std::chrono::steady_clock::now();
    for (long polls = 0;; ++polls) {
      ncclResult_t state = ncclSuccess;
      if (comm_ != nullptr) check(ncclCommGetAsyncError(comm_, &state), op, call);
      if (state != ncclSuccess && state != ncclInProgress)
        fail_call(op, rank(), size(), call, nccl_error(state, comm_));
      if (state == ncclSuccess) {
        const cudaError_t done = cudaStreamQuery(stream_);
        if (done == cudaSuccess) return;
        if (done != cudaErrorNotReady)
          fail_call(op, rank(), size(), "cudaStreamQuery",
                    std::string("CUDA error ") + cudaGetErrorName(done));
      }
      if (std::chrono::steady_clock::now() - start > timeout_) {
        ncclCommAbort(comm_);
        comm_ = nullptr;
        fail_timeout(op, rank(), size(), call, timeout_);
      }
      if (polls > 1000) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  std::shared_ptr<Communicator> host_;
  Seconds timeout_;
  cudaStream_t stream_;
  ncclComm_t comm_ = nullptr;
};

}  // namespace

bool nccl_built() {
  return true;
}

std::shared_ptr<Communicator> nccl_world(Seconds timeout) {
  std::shared_ptr<Communicator> host = mpi_world(timeout);
  const int devices = modnorm::detail::cuda_device_count();
  if (devices == 0)
    fail_call("init", host->rank(), host->size(), "cudaGetDeviceCount",
              "no CUDA device is visible; the NCCL backend needs one GPU per rank");
  const int device = host->rank() % devices;
  const cudaError_t rc = cudaSetDevice(device);
  if (rc != cudaSuccess)
    fail_call("init", host->rank(), host->size(), "cudaSetDevice",
              std::string("CUDA error ") + cudaGetErrorName(rc));
  return NcclCommunicator::join(std::move(host), timeout);
}

}  // namespace modnorm::distributed::detail
