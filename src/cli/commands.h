// `skiff` subcommands. Each takes the arguments after its name and returns the process exit
// code: 0 success, 1 failure (e.g. a workflow that did not succeed), 2 bad input (nothing was
// started or written).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace skiff::cli {

using Argv = std::vector<std::string>;

int CmdRun(const Argv& args);
int CmdWait(const Argv& args);
int CmdLint(const Argv& args);
int CmdGet(const Argv& args);
int CmdApply(const Argv& args);
int CmdDelete(const Argv& args);
int CmdLogs(const Argv& args);
int CmdResume(const Argv& args);
int CmdStop(const Argv& args, bool terminate);
int CmdServer(const Argv& args);
int CmdToken(const Argv& args);
int CmdDescribe(const Argv& args);
int CmdLineage(const Argv& args);
int CmdArtifacts(const Argv& args);
int CmdLog(const Argv& args);
int CmdMetrics(const Argv& args);
int CmdExecutions(const Argv& args);
int CmdContexts(const Argv& args);
int CmdModelServer(const Argv& args);

// A `skiff server` to talk to instead of the local store.
struct RemoteTarget {
  std::string server;  // "http://127.0.0.1:8080"
  std::string token;   // bearer token, may be empty
};
// From `--server`/`--token` (removed from `argv`), `$SKIFF_SERVER`/`$SKIFF_TOKEN`, or the config
// file (`$SKIFF_CONFIG`, default `~/.config/skiff/config.yaml` with `server:` and `token:`).
std::optional<RemoteTarget> FindRemote(Argv& argv);
int RemoteGet(const RemoteTarget& t, const Argv& args);
int RemoteApply(const RemoteTarget& t, const Argv& args, bool create_only);
int RemoteDelete(const RemoteTarget& t, const Argv& args);
int RemoteDescribe(const RemoteTarget& t, const Argv& args);
int RemoteLogs(const RemoteTarget& t, const Argv& args);
int RemoteWait(const RemoteTarget& t, const Argv& args);

// Prints rows as aligned columns (3 spaces apart), kubectl-style; the first row is the header.
void PrintTable(const std::vector<std::vector<std::string>>& rows);

// kubectl-style text for `describe`.
std::string DescribeText(const Json& obj);
std::string EventsText(const Json& events);
// The normalized plan of a training job (describe_training.cc); for `DescribeText`.
std::string TrainingPlanText(const Json& obj);

// Checks a resource before it is stored (Workflow kinds: structure and references).
Status ValidateForStore(const Json& obj);

// Shared helpers.
// Reads a YAML/JSON file ("-" = stdin) into documents; errors name the file.
Result<std::vector<Json>> LoadDocuments(const std::string& path);
// Prints "error: <message>" to stderr and returns `code`.
int Fail(const Status& status, int code = 2);
// Kubernetes kinds this build stores, with whether they are namespaced.
bool KnownKind(const std::string& kind, bool* namespaced);
// "workflows", "wf", "workflow" -> "Workflow"; "" if unknown.
std::string KindFromResourceName(const std::string& name);

}  // namespace skiff::cli
