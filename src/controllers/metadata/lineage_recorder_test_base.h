// Test fixture for LineageRecorder tests: the controller fixture's store and loop, plus a real
// lineage store and artifact store in a fresh temporary directory.
#pragma once

#include <stdlib.h>

#include <memory>
#include <string>

#include "common/fs.h"
#include "controllers/controller_test_base.h"
#include "controllers/metadata/lineage_recorder.h"

namespace skiff::controllers {

class LineageRecorderTestBase : public ControllerTestBase<LineageRecorder> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-lineage-rec-XXXXXX";
    lineage_dir_ = ::mkdtemp(tmpl);
    auto ls = metadata::LineageStore::Open(JoinPath(lineage_dir_, "lineage.db"));
    ASSERT_TRUE(ls.ok()) << ls.status().ToString();
    lineage_ = std::move(*ls);
    artifacts_ = std::make_unique<metadata::ArtifactStore>(JoinPath(lineage_dir_, "artifacts"));
    ControllerTestBase::SetUp();
  }
  void TearDown() override {
    ControllerTestBase::TearDown();
    lineage_.reset();
    RemoveAll(lineage_dir_).IgnoreError();
  }
  std::unique_ptr<LineageRecorder> MakeController() override {
    return std::make_unique<LineageRecorder>(*store_, loop_, *informer_, *lineage_, *artifacts_);
  }

  // Creates `pod` in the store and marks it Succeeded (as its kubelet would).
  void CreateSucceededPod(const Json& pod) {
    auto created = store_->Create(pod);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    Json done = *created;
    done["status"] = {{"phase", "Succeeded"}};
    ASSERT_TRUE(store_->UpdateStatus(done).ok());
  }

  std::string lineage_dir_;
  std::unique_ptr<metadata::LineageStore> lineage_;
  std::unique_ptr<metadata::ArtifactStore> artifacts_;
};

}  // namespace skiff::controllers
