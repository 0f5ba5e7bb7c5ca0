// Katib's `trialTemplate.successCondition` / `failureCondition`: GJSON paths evaluated on the
// Trial's run object. A condition holds when the path finds something (a value that is not null
// and not an empty list), as Katib tests `gjson.Get(runObject, condition).Exists()`.
//
// The GJSON subset Katib's defaults and examples use:
//   a.b.c            object keys (`\.` escapes a dot in a key); a number indexes an array
//   #(k==v) / #(k==v)#   the first / every array element whose field k compares with v
//                    (==, !=, <, <=, >, >=; v a "quoted string", a number, true or false;
//                    k may itself be a dotted path)
//   x#.k / ...#(..)#.k    after an every-match query, later keys apply to each element
//   p|q              evaluate q on what p found
//   @this, [@this]   the value itself / the value as a one-element list (Katib's Argo example:
//                    `status.[@this].#(phase=="Succeeded")#`)
// Defaults (Katib's webhook): a batch/v1 Job succeeds on
// `status.conditions.#(type=="Complete")#|#(status=="True")#` and fails on the same with
// "Failed"; the Kubeflow training kinds use "Succeeded" / "Failed".
#pragma once

#include <string>
#include <string_view>

#include "common/json.h"
#include "common/status.h"

namespace skiff::controllers {

// Checks `condition` parses; the error says what is wrong at which character.
Status ValidateTrialCondition(std::string_view condition);

// Whether `condition` holds on `object` (false when it does not parse).
bool TrialConditionHolds(const Json& object, std::string_view condition);

// Katib's default conditions for a run object of `kind`.
std::string DefaultSuccessCondition(std::string_view kind);
std::string DefaultFailureCondition(std::string_view kind);

}  // namespace skiff::controllers
