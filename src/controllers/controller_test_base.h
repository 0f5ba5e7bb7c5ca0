// The fixture controller tests share: a private directory, a real SQLite store and an informer
// on an event loop driven by a FakeClock. `Open()` (re)opens them and starts the controller
// under test, as a restart after a crash would; each test says how its controller is made.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "common/clock.h"
#include "common/event_loop.h"
#include "common/fs.h"
#include "store/informer.h"
#include "store/store.h"

namespace skiff::controllers {

template <typename Controller>
class ControllerTestBase : public ::testing::Test {
 protected:
  ControllerTestBase() : loop_(clock_) {}
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-ctl-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    Open();
  }
  void TearDown() override {
    controller_.reset();
    informer_.reset();
    store_.reset();
    skiff::Status s = RemoveAll(dir_);
    (void)s;
  }
  // (Re)opens the store on the same database and starts a fresh controller.
  void Open() {
    controller_.reset();
    informer_.reset();
    store_.reset();
    auto s = store::OpenSqliteStore(JoinPath(dir_, "skiff.db"));
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    informer_ = std::make_unique<store::Informer>(*store_, loop_);
    controller_ = MakeController();
    ASSERT_TRUE(informer_->Start().ok());
    ASSERT_TRUE(controller_->Start().ok());
    AfterOpen();
  }
  virtual std::unique_ptr<Controller> MakeController() = 0;
  virtual void AfterOpen() {}

  std::string dir_;
  FakeClock clock_;
  EventLoop loop_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::Informer> informer_;
  std::unique_ptr<Controller> controller_;
};

}  // namespace skiff::controllers
