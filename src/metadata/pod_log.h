// What user code inside a Pod logs about its own execution (`skiff log metric|artifact`, the
// Python module's `log_metric`/`log_artifact`) when it cannot reach a server: JSON lines
// appended to `$SKIFF_METADATA_FILE`, read by the lineage recorder when the Pod ends.
//
// Every Pod gets a directory of its own, `<home>/metadata/pods/<uid>/` (the kubelet creates it
// and makes it visible at the same path inside the Pod), holding:
//   log.jsonl    one JSON object a line:
//                {"kind":"metric","name":"accuracy","value":0.97,"step":0,"ms":1732870000000}
//                {"kind":"artifact","direction":"output","file":"<dir>/files/1-model.ubj",
//                 "type":"Model","name":"model.ubj","ms":...}
//                {"kind":"artifact","direction":"input","digest":"sha256:...","size":123,
//                 "uri":"file:///data/raw.csv","type":"Dataset","name":"raw.csv","ms":...}
//   files/       copies of output files logged offline (the Pod's own paths, e.g. its private
//                /tmp, are gone once it ends; an input is logged by digest and needs no copy)
//   outputs/     `$SKIFF_OUTPUT_DIR`: what a training replica writes here is recorded as its
//                checkpoints and model
//
// Reading is lenient: a line that is not one of these is skipped and counted (a Pod killed
// mid-write leaves half a line), so a bad line never loses the rest of the log.
#pragma once

#include <string>
#include <vector>

#include "common/json.h"
#include "common/status.h"
#include "metadata/artifact_store.h"
#include "metadata/lineage.h"

namespace skiff::metadata {

// `<home>/metadata/pods/<uid>`.
std::string PodMetadataDir(const std::string& home, const std::string& pod_uid);
std::string PodMetadataFile(const std::string& home, const std::string& pod_uid);
std::string PodOutputDir(const std::string& home, const std::string& pod_uid);

// One logged artifact, as an artifact record of namespace `ns`.
ArtifactRecord LoggedArtifact(const std::string& ns, const BlobInfo& blob, const std::string& type,
                              const std::string& name, const std::string& uri);

// Adds what the log at `file` holds to `w` (metrics, inputs, outputs); output files are stored
// in `artifacts`. Only files under `dir`/files are read: a log line cannot make the recorder
// publish another file. Returns the number of lines skipped; NotFound if there is no log.
Result<int> ReadPodLog(const std::string& dir, const std::string& ns, ArtifactStore& artifacts,
                       ExecutionWrite* w);

// Adds every regular file under `dir`/outputs to `w`'s outputs (type `Checkpoint` when its name
// says so, else `Model`), stored in `artifacts`. Returns how many were added.
Result<int> ReadPodOutputs(const std::string& dir, const std::string& ns, ArtifactStore& artifacts,
                           ExecutionWrite* w);

}  // namespace skiff::metadata
