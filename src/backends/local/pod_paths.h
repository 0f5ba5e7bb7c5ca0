// Where a file that a Pod's container sees at an absolute path lies on the host, as the local
// kubelet lays a Pod out (see kubelet.cc `PreparePod`): a volume mount (emptyDir, configMap,
// secret, downwardAPI, projected: `<home>/pods/<uid>/volumes/<name>`; persistentVolumeClaim:
// `<home>/volumes/<ns>/<claim>`; hostPath: the path; plus `subPath`), else the private /tmp
// (`<home>/pods/<uid>/tmp`), else the Pod's private root (`<home>/pods/<uid>/root/upper`,
// removed when the Pod finishes: collectors that read after the end mount a volume instead).
// Without isolation (`SKIFF_ISOLATE=0`, or no mount namespaces) the Pod wrote the host path.
//
// Pure function over the Pod object; thread-safe.
#pragma once

#include <string>

#include "common/json.h"

namespace skiff::local {

std::string PodHostPath(const std::string& home, const Json& pod, const std::string& path,
                        bool isolated = true);

// The host directory behind PersistentVolumeClaim `claim` in namespace `ns` ("" = default).
std::string ClaimHostDir(const std::string& home, const std::string& ns, const std::string& claim);

}  // namespace skiff::local
