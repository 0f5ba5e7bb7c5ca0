// skiff: Kubeflow's ML automation in one binary. This file only dispatches subcommands; the
// commands live in cmd_*.cc and wire concrete classes through local_runtime.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "backends/local/supervisor.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/main_heap.h"
#include "common/trace_mark.h"

namespace {

constexpr const char* kVersion = "0.1.0";

constexpr const char* kUsage = R"(skiff: Kubeflow's machine-learning automation in one binary.

Usage:
  skiff run FILE [-p name=value]... [-o json|yaml|name]   run a Workflow to completion
  skiff lint FILE...                          validate without running
  skiff get workflows|pods|... [NAME] [-o json|yaml|name|wide] [-w]
  skiff describe KIND NAME
  skiff lineage artifact DIGEST|KEY | execution NAME [--downstream|--both] [--hops N]
  skiff artifacts ls [--type T] [--context TYPE/NAME] [--digest D] | get DIGEST -o FILE | gc [--grace 1h] [--dry-run]
  skiff log metric NAME=VALUE... [--step N] | log artifact FILE [--type T] [--name N] [--input]
                                              (inside a step, trial or replica)
  skiff executions ls [--context TYPE/NAME] [--state S] [-o json|yaml|wide]
  skiff contexts ls [--type T] [--name N] [--parent TYPE/NAME] [-o json|yaml|wide]   (or `skiff get contexts`)
  skiff metrics [--context TYPE/NAME | --execution NAME] [-o json]   metrics as a table
  skiff logs WORKFLOW [STEP] | skiff logs POD [-f]
  skiff apply -f FILE                         create or update resources in the local store
  skiff delete KIND NAME... [--all]
  skiff wait WORKFLOW...                      follow (and, if needed, drive) a workflow
  skiff resume WORKFLOW [--node NAME] [-p name=value]
  skiff stop|terminate WORKFLOW
  skiff server [--host 127.0.0.1] [--port 8080] [--auth]   Kubernetes API + controllers
  skiff model-server --model-name NAME --model-dir DIR|FILE [--format xgboost|sklearn] [--port 8080]
                                              serve one model over KServe's V1/V2 REST protocols
  skiff token create NAME --namespace NS [--role view|edit|admin] | list | delete NAME
  skiff version

Data lives in $SKIFF_HOME (default ~/.skiff). apply, create, get, describe, delete, logs and wait
talk to a server instead with --server URL [--token T], $SKIFF_SERVER, or ~/.config/skiff/config.yaml.
)";

int Supervisor(const std::vector<std::string>& argv) {
  skiff::cli::Args args({"--state-dir", "--cpus", "--memory", "--idle-exit-ms"}, {"--foreground"});
  skiff::Status s = args.Parse(argv);
  if (!s.ok()) return skiff::cli::Fail(s);
  skiff::local::SupervisorConfig config;
  config.state_dir = args.Get("--state-dir");
  if (config.state_dir.empty()) return skiff::cli::Fail(skiff::InvalidArgument("--state-dir is required"));
  if (args.Has("--cpus")) config.cpu_millis = static_cast<int64_t>(std::atof(args.Get("--cpus").c_str()) * 1000);
  if (const char* env = std::getenv("SKIFF_CPUS"); env != nullptr && !args.Has("--cpus")) {
    config.cpu_millis = static_cast<int64_t>(std::atof(env) * 1000);
  }
  if (args.Has("--memory")) config.memory_bytes = std::atoll(args.Get("--memory").c_str());
  if (args.Has("--idle-exit-ms")) config.idle_exit_ms = std::atoll(args.Get("--idle-exit-ms").c_str());
  config.daemonize = !args.Has("--foreground");
  return skiff::local::RunSupervisor(config);
}

}  // namespace

int main(int argc, char** argv) {
  skiff::cli::UseHugePageHeapForThisThread();
  skiff::TraceMark("main");
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  std::string cmd = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  using namespace skiff::cli;
  // Lineage contexts are not resources: `skiff get contexts` reads them from the lineage store.
  if ((cmd == "get" || cmd == "list") && !rest.empty() && rest[0] == "contexts") {
    return CmdContexts(std::vector<std::string>(rest.begin() + 1, rest.end()));
  }
  // Commands that talk to a server when one is configured; `skiff run` always runs locally.
  if (cmd == "apply" || cmd == "create" || cmd == "get" || cmd == "list" || cmd == "describe" ||
      cmd == "delete" || cmd == "logs" || cmd == "wait") {
    if (auto remote = FindRemote(rest)) {
      if (cmd == "apply" || cmd == "create") return RemoteApply(*remote, rest, cmd == "create");
      if (cmd == "get" || cmd == "list") return RemoteGet(*remote, rest);
      if (cmd == "describe") return RemoteDescribe(*remote, rest);
      if (cmd == "delete") return RemoteDelete(*remote, rest);
      if (cmd == "logs") return RemoteLogs(*remote, rest);
      return RemoteWait(*remote, rest);
    }
  }
  if (cmd == "run" || cmd == "submit") return CmdRun(rest);
  if (cmd == "describe") return CmdDescribe(rest);
  if (cmd == "lineage") return CmdLineage(rest);
  if (cmd == "artifacts") return CmdArtifacts(rest);
  if (cmd == "log") return CmdLog(rest);
  if (cmd == "metrics") return CmdMetrics(rest);
  if (cmd == "executions") return CmdExecutions(rest);
  if (cmd == "contexts") return CmdContexts(rest);
  if (cmd == "wait" || cmd == "watch") return CmdWait(rest);
  if (cmd == "lint") return CmdLint(rest);
  if (cmd == "get" || cmd == "list") return CmdGet(rest);
  if (cmd == "apply" || cmd == "create") return CmdApply(rest);
  if (cmd == "delete") return CmdDelete(rest);
  if (cmd == "logs") return CmdLogs(rest);
  if (cmd == "resume") return CmdResume(rest);
  if (cmd == "stop") return CmdStop(rest, false);
  if (cmd == "terminate") return CmdStop(rest, true);
  if (cmd == "supervisor") return Supervisor(rest);
  if (cmd == "server") return CmdServer(rest);
  if (cmd == "token") return CmdToken(rest);
  if (cmd == "model-server") return CmdModelServer(rest);
  if (cmd == "version" || cmd == "--version") {
    std::printf("skiff %s\n", kVersion);
    return 0;
  }
  std::fprintf(stderr, "error: unknown command \"%s\"\n\n%s", cmd.c_str(), kUsage);
  return 2;
}
