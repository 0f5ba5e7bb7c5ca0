// Data-parallel SGD with MPI_Allreduce, and an all-reduce throughput probe; the program an
// MPIJob's launcher runs with `mpirun` (see bench/training/run.sh, which runs it both inside an
// MPIJob and with a plain `mpirun`, and compares).
//
//   mpicxx -O2 -o allreduce allreduce.cc
//   mpirun -n 2 ./allreduce            # SGD: fits y = 3x - 2 from shards, checks the sums
//   mpirun -n 2 ./allreduce --bench    # "allreduce bytes=B iters=N seconds=S GB/s=G" per size
//
// SGD: each rank holds its own shard of a synthetic data set; every step it computes the
// gradient of the squared error on its shard and the ranks sum gradients and sample counts with
// MPI_Allreduce, so every rank applies the same update. The result is checked: the summed sample
// count equals the data set's size, every rank ends with the same weights, and they are close to
// (3, -2). Exit 0 iff all checks pass.
// The C API only: OpenMPI's deprecated C++ bindings do not compile cleanly with -Wextra.
#define OMPI_SKIP_MPICXX 1
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

namespace {

int Sgd(int rank, int size) {
  const int total = 4000;
  std::vector<double> xs, ys;
  for (int i = rank; i < total; i += size) {
    double x = -1.0 + 2.0 * i / total;
    double noise = 0.01 * std::sin(i * 12.9898);
    xs.push_back(x);
    ys.push_back(3.0 * x - 2.0 + noise);
  }
  double w = 0, b = 0, first_loss = -1, loss = 0;
  for (int step = 0; step < 300; ++step) {
    double local[4] = {0, 0, 0, static_cast<double>(xs.size())};  // dw, db, squared error, n
    for (size_t i = 0; i < xs.size(); ++i) {
      double err = w * xs[i] + b - ys[i];
      local[0] += 2 * err * xs[i];
      local[1] += 2 * err;
      local[2] += err * err;
    }
    double sum[4];
    MPI_Allreduce(local, sum, 4, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    if (static_cast<int>(sum[3]) != total) {
      std::printf("rank %d: summed sample count %g, want %d\n", rank, sum[3], total);
      return 1;
    }
    loss = sum[2] / sum[3];
    if (first_loss < 0) first_loss = loss;
    w -= 0.5 * sum[0] / sum[3];
    b -= 0.5 * sum[1] / sum[3];
  }
  double mine[2] = {w, b}, all_min[2], all_max[2];
  MPI_Allreduce(mine, all_min, 2, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(mine, all_max, 2, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  bool same = all_min[0] == all_max[0] && all_min[1] == all_max[1];
  bool close = std::fabs(w - 3) < 0.05 && std::fabs(b + 2) < 0.05;
  std::printf("rank %d of %d: w=%.4f b=%.4f loss %.5f -> %.6f%s\n", rank, size, w, b, first_loss,
              loss, same && close ? "" : " (WRONG)");
  return same && close && loss < first_loss ? 0 : 1;
}

// Algorithm bandwidth (bytes of the vector / seconds per all-reduce), as OSU's and NCCL's tests
// print it, for float vectors of several sizes. Checks the sums of the last call.
int Bench(int rank, int size) {
  const size_t sizes[] = {size_t{64} << 10, size_t{1} << 20, size_t{16} << 20};
  int bad = 0;
  for (size_t bytes : sizes) {
    size_t n = bytes / sizeof(float);
    std::vector<float> in(n, static_cast<float>(rank + 1)), out(n);
    // 100 MiB of vectors per size (at least 5, at most 500 calls): well under a second each on
    // an idle machine.
    int iters = static_cast<int>(std::clamp<size_t>((size_t{100} << 20) / bytes, 5, 500));
    MPI_Allreduce(in.data(), out.data(), static_cast<int>(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Barrier(MPI_COMM_WORLD);
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) {
      MPI_Allreduce(in.data(), out.data(), static_cast<int>(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
    double local = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double seconds = 0;
    MPI_Reduce(&local, &seconds, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    float want = static_cast<float>(size) * (size + 1) / 2;
    if (out[0] != want || out[n - 1] != want) ++bad;
    if (rank == 0) {
      std::printf("allreduce bytes=%zu iters=%d seconds=%.4f GB/s=%.4f\n", bytes, iters, seconds,
                  static_cast<double>(bytes) * iters / seconds / 1e9);
      std::fflush(stdout);
    }
  }
  if (bad) std::printf("rank %d: wrong sums\n", rank);
  return bad ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  bool bench = argc > 1 && std::strcmp(argv[1], "--bench") == 0;
  int rc = bench ? Bench(rank, size) : Sgd(rank, size);
  MPI_Finalize();
  return rc;
}
