// `skiff` subcommands. Each takes the arguments after its name and returns the process exit
// code: 0 success, 1 failure (e.g. a workflow that did not succeed), 2 bad input (nothing was
// started or written).
#pragma once

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
