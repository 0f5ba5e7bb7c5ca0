#include "common/event_loop.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>

namespace skiff {
namespace {

TEST(EventLoopTest, TimersFireInOrderOnFakeClock) {
  FakeClock clock;
  EventLoop loop(clock);
  std::vector<int> fired;
  loop.After(std::chrono::seconds(2), [&] { fired.push_back(2); });
  auto id = loop.After(std::chrono::seconds(1), [&] { fired.push_back(1); });
  loop.After(std::chrono::seconds(3), [&] { fired.push_back(3); });
  loop.RunOnce(Duration(0));
  EXPECT_TRUE(fired.empty());
  clock.Advance(std::chrono::milliseconds(2500));
  loop.RunOnce(Duration(0));
  EXPECT_EQ(fired, (std::vector<int>{1, 2}));
  loop.Cancel(id);  // already fired: harmless
  clock.Advance(std::chrono::seconds(1));
  loop.RunOnce(Duration(0));
  EXPECT_EQ(fired, (std::vector<int>{1, 2, 3}));
}

TEST(EventLoopTest, PostFromAnotherThreadWakesTheLoop) {
  EventLoop loop;
  int value = 0;
  std::thread t([&] {
    loop.Post([&] { value = 42; });
    loop.Stop();
  });
  loop.Run();
  t.join();
  EXPECT_EQ(value, 42);
}

TEST(EventLoopTest, WatchedFdCallsBack) {
  EventLoop loop;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::string got;
  ASSERT_TRUE(loop.Watch(fds[0], [&] {
    char buf[16];
    ssize_t n = read(fds[0], buf, sizeof buf);
    got.append(buf, static_cast<size_t>(n));
    loop.Unwatch(fds[0]);
  }).ok());
  ASSERT_EQ(write(fds[1], "hi", 2), 2);
  loop.RunOnce(std::chrono::seconds(1));
  EXPECT_EQ(got, "hi");
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace skiff
