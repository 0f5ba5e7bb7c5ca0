#include <gtest/gtest.h>

#include "engine/dag/executor.h"

namespace skiff::dag {
namespace {

Status Validate(const std::string& yaml) {
  auto j = ParseYaml(yaml);
  EXPECT_TRUE(j.ok()) << j.status().ToString();
  return ValidateWorkflow(*j, [](std::string_view name, bool) -> Result<Json> {
    if (name == "lib") {
      return *ParseYaml("spec: {templates: [{name: echo, container: {image: x, command: [echo]}}]}");
    }
    return NotFound(std::string(name));
  });
}

constexpr const char* kHeader = "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {generateName: x-}\n";

TEST(ValidateTest, AcceptsAValidDag) {
  Status s = Validate(std::string(kHeader) + R"YAML(
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: prepare, template: t}
      - {name: train, depends: prepare.Succeeded, template: t}
      - {name: ref, templateRef: {name: lib, template: echo}}
  - name: t
    container: {image: busybox, command: ["true"]}
)YAML");
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST(ValidateTest, UnknownTaskInDependsNamesTheField) {
  Status s = Validate(std::string(kHeader) + R"YAML(
spec:
  entrypoint: main
  templates:
  - name: t
    container: {image: busybox, command: ["true"]}
  - name: main
    dag:
      tasks:
      - {name: prepare, template: t}
      - {name: train, template: t}
      - {name: evaluate, depends: "trian && prepare", template: t}
)YAML");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "spec.templates[1].dag.tasks[2].depends: unknown task \"trian\"");
}

TEST(ValidateTest, DependencyCycleIsReported) {
  Status s = Validate(std::string(kHeader) + R"YAML(
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: a, dependencies: [c], template: t}
      - {name: b, dependencies: [a], template: t}
      - {name: c, dependencies: [b], template: t}
  - name: t
    container: {image: busybox, command: ["true"]}
)YAML");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("dependency cycle"), std::string::npos) << s.message();
}

TEST(ValidateTest, UnknownTemplateAndEntrypoint) {
  Status s = Validate(std::string(kHeader) + R"YAML(
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: a, template: nope}
)YAML");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "spec.templates[0].steps[0][0].template: template \"nope\" not found");
  Status e = Validate(std::string(kHeader) + "spec: {entrypoint: missing, templates: [{name: t, container: {image: x}}]}");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.message(), "spec.entrypoint: template \"missing\" not found");
}

TEST(ValidateTest, MissingRequiredParameter) {
  Status s = Validate(std::string(kHeader) + R"YAML(
spec:
  entrypoint: main
  templates:
  - name: main
    inputs: {parameters: [{name: lr}]}
    container: {image: busybox, command: [echo, "{{inputs.parameters.lr}}"]}
)YAML");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("missing required parameter \"lr\""), std::string::npos) << s.message();
}

TEST(ValidateTest, UnresolvableReferencesAreRejected) {
  Status s = Validate(std::string(kHeader) + R"YAML(
spec:
  entrypoint: main
  templates:
  - name: main
    container: {image: busybox, command: [echo, "{{inputs.parameters.nope}}"]}
)YAML");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(),
            "spec.templates[0].container.command[1]: unresolvable {{inputs.parameters.nope}}: input "
            "parameter \"nope\" is not declared");
  Status later = Validate(std::string(kHeader) + R"YAML(
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: a, template: t, arguments: {parameters: [{name: x, value: "{{steps.b.outputs.result}}"}]}}
    - - {name: b, template: t, arguments: {parameters: [{name: x, value: "1"}]}}
  - name: t
    inputs: {parameters: [{name: x}]}
    container: {image: busybox, command: [echo, "{{inputs.parameters.x}}"]}
)YAML");
  ASSERT_FALSE(later.ok());
  EXPECT_NE(later.message().find("step \"b\" is not defined before this point"), std::string::npos);
}

TEST(ValidateTest, MissingNameAndBadShapes) {
  EXPECT_EQ(Validate("kind: Workflow\nmetadata: {}\nspec: {}").message(),
            "metadata.name: name or generateName is required");
  EXPECT_EQ(Validate(std::string(kHeader) + "spec: {entrypoint: a, templates: [{name: a}]}").message(),
            "spec.templates[0]: template has no type (container, script, steps, dag, ...)");
}

}  // namespace
}  // namespace skiff::dag
