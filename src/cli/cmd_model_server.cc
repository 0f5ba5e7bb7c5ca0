// `skiff model-server`: serves one model over KServe's V1 and V2 REST protocols (see
// serving/server/model_server.h). It binds first and prints the port, then loads the model; until
// the model is loaded, readiness answers 503. SIGINT/SIGTERM stop it.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <thread>

#include "api/http_server.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "serving/runtime/runtime.h"
#include "serving/server/model_server.h"

namespace skiff::cli {

int CmdModelServer(const Argv& argv) {
  Args args({"--model-name", "--model-dir", "--format", "--port", "--host", "--workers", "--io-threads", "--model-version",
             "--python", "--max-batch-size", "--max-latency-ms"},
            {});
  Status s = args.Parse(argv);
  if (!s.ok()) return Fail(s);
  std::string name = args.Get("--model-name");
  std::string dir = args.Get("--model-dir");
  if (name.empty() || dir.empty()) {
    return Fail(InvalidArgument(
        "usage: skiff model-server --model-name NAME --model-dir DIR|FILE [--format xgboost|sklearn|pytorch] "
        "[--port 8080] [--host 127.0.0.1] [--io-threads N] [--workers 4] [--model-version 1] [--python /usr/bin/python3] "
        "[--max-batch-size N --max-latency-ms M]"));
  }
  auto format = serving::ParseModelFormat(args.Get("--format"));
  if (!format) return Fail(InvalidArgument("--format: must be xgboost, sklearn or pytorch"));
  api::HttpServerOptions ho;
  ho.host = args.Get("--host", "127.0.0.1");
  ho.port = std::atoi(args.Get("--port", "8080").c_str());
  ho.workers = std::atoi(args.Get("--workers", "4").c_str());
  if (ho.port < 0 || ho.port > 65535) return Fail(InvalidArgument("--port: must be 0-65535"));
  if (ho.workers < 1) return Fail(InvalidArgument("--workers: must be at least 1"));
  // Event loops: by default one per core less one (at least one). A small model's prediction is
  // answered on the loop that read the request (see ModelServer::AnswersInline); the workers serve the rest. A
  // replica shares its machine with the gateway, the server and the clients: on 2 cores with
  // `wrk -t2 -c32` beside it, one loop gave the same 31-34k req/s as two with p99 2.0 ms instead
  // of 4.4 ms (fewer runnable threads than cores, so no loop waits behind another for a CPU).
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ho.io_threads = std::atoi(args.Get("--io-threads", std::to_string(std::max(1, cores - 1))).c_str());
  if (ho.io_threads < 1) return Fail(InvalidArgument("--io-threads: must be at least 1"));
  std::optional<serving::BatcherOptions> batching;
  if (args.Has("--max-batch-size") || args.Has("--max-latency-ms")) {
    serving::BatcherOptions bo;
    bo.max_batch_size = std::atoi(args.Get("--max-batch-size", "32").c_str());
    int latency = std::atoi(args.Get("--max-latency-ms", "5000").c_str());
    if (bo.max_batch_size < 1) return Fail(InvalidArgument("--max-batch-size: must be at least 1"));
    if (latency < 1) return Fail(InvalidArgument("--max-latency-ms: must be at least 1"));
    bo.max_latency = std::chrono::milliseconds(latency);
    batching = bo;
    // A batch fills from concurrent requests, each holding an HTTP worker while it waits.
    ho.workers = std::max(ho.workers, std::min(bo.max_batch_size, 64));
  }
  // Check the path and format before binding, so that a typo fails fast with exit code 2.
  auto loc = serving::LocateModel(dir, *format);
  if (!loc.ok()) return Fail(loc.status());
  if (loc->format == serving::ModelFormat::kXGBoost && !serving::HaveXGBoost()) {
    return Fail(Unimplemented("this skiff was built without libxgboost-dev; the XGBoost runtime is not available"));
  }
  if (loc->format == serving::ModelFormat::kTorchScript && !serving::HaveTorch()) {
    return Fail(serving::LoadTorchRuntime(loc->path).status());
  }

  // The HTTP threads and the sklearn helper must not take SIGINT/SIGTERM: the main thread waits
  // for them with sigwait.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  serving::ModelServer model_server(name, args.Get("--model-version", "1"));
  if (batching) model_server.EnableBatching(*batching);
  ho.on_io_thread = [&model_server](const api::HttpRequest& req) { return model_server.AnswersInline(req); };
  api::HttpServer server(ho, [&model_server](const api::HttpRequest& req, api::HttpResponse& resp,
                                             api::HttpExchange&) { model_server.Handle(req, resp); });
  s = server.Start();
  if (!s.ok()) return Fail(s, 1);
  std::printf("skiff model-server listening on http://%s:%d (model %s, %s)\n", ho.host.c_str(), server.port(),
              name.c_str(), std::string(serving::ModelFormatName(loc->format)).c_str());
  std::fflush(stdout);

  // Test hook: delays loading so that tests can observe the not-ready state.
  if (const char* d = std::getenv("SKIFF_MODEL_SERVER_LOAD_DELAY_MS")) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::atoll(d)));
  }
  serving::RuntimeOptions ro;
  ro.format = loc->format;
  ro.parallelism = std::max(ho.workers, ho.io_threads);  // a booster for every thread that predicts
  ro.python = args.Get("--python", "/usr/bin/python3");
  auto rt = serving::LoadRuntime(loc->path, ro);
  if (!rt.ok()) {
    server.Stop();
    return Fail(rt.status().WithPrefix("loading model " + name), 1);
  }
  int64_t nf = (*rt)->num_features();
  model_server.SetRuntime(std::move(*rt));
  std::printf("model %s ready (%s, %lld features)\n", name.c_str(), loc->path.c_str(), static_cast<long long>(nf));
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop, &sig);
  server.Stop();
  std::fprintf(stderr, "skiff model-server stopped\n");
  return 0;
}

}  // namespace skiff::cli
