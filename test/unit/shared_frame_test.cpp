#include "endpoint/shared_frame.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace {

using zws::detail::frame_ref;
using zws::detail::out_queue;
using zws::detail::out_queue_ptr;

std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string text_of(std::span<const std::uint8_t> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

TEST(SharedFrame, OneAllocationOfExactlyHeadAndBody) {
  const std::size_t frames = frame_ref::live_frames();
  const std::size_t bytes = frame_ref::live_bytes();
  {
    frame_ref f = frame_ref::make(bytes_of("ab"), bytes_of("cdef"));
    EXPECT_EQ(text_of(f.bytes()), "abcdef");
    EXPECT_EQ(frame_ref::live_frames(), frames + 1);
    EXPECT_EQ(frame_ref::live_bytes(), bytes + 6);
    frame_ref copy = f;
    frame_ref moved = std::move(f);
    EXPECT_FALSE(f);
    EXPECT_EQ(copy.bytes().data(), moved.bytes().data());
    EXPECT_EQ(frame_ref::live_frames(), frames + 1);
  }
  EXPECT_EQ(frame_ref::live_frames(), frames);
  EXPECT_EQ(frame_ref::live_bytes(), bytes);
  EXPECT_TRUE(frame_ref().bytes().empty());
}

TEST(SharedFrame, LastReferenceOnAnyThreadFrees) {
  const std::size_t frames = frame_ref::live_frames();
  frame_ref f = frame_ref::make(bytes_of(std::string(1000, 'x')));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([f] {
      for (int i = 0; i < 10000; ++i) {
        frame_ref copy = f;
        ASSERT_EQ(copy.size(), 1000u);
      }
    });
  f = frame_ref();
  for (auto& t : threads) t.join();
  EXPECT_EQ(frame_ref::live_frames(), frames);
}

TEST(OutQueue, CountsPendingAndHeldAsSegmentsGo) {
  out_queue q;
  zws::buffer owned;
  owned.append(std::string_view("12345"));
  const std::size_t cap = owned.capacity();
  frame_ref f = frame_ref::make(bytes_of("frame-bytes"));
  q.push_owned(std::move(owned));
  q.push_frame(f);
  q.push_frame(f, 6);
  EXPECT_EQ(q.pending, 5u + 11u + 5u);
  EXPECT_EQ(q.held, cap + 11u + 11u);
  q.consume_front(2);
  EXPECT_EQ(text_of(q.front().rest()), "345");
  q.consume_front(3);
  EXPECT_EQ(text_of(q.front().rest()), "frame-bytes");
  q.consume_front(6);
  EXPECT_EQ(text_of(q.front().rest()), "bytes");
  EXPECT_EQ(q.held, 22u);
  q.consume_front(5);
  EXPECT_EQ(text_of(q.front().rest()), "bytes");
  q.pop();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.pending, 0u);
  EXPECT_EQ(q.held, 0u);
}

TEST(OutQueue, StreamingNeverGrowsTheSegmentArrayWithoutBound) {
  out_queue q;
  frame_ref f = frame_ref::make(bytes_of("xy"));
  q.push_frame(f);
  for (int i = 0; i < 100000; ++i) {
    q.push_frame(f);
    q.pop();
  }
  EXPECT_LT(q.segs.size(), 64u);
  EXPECT_EQ(q.pending, 2u);
}

// A lone frame is held without an out_queue, counted in full, gathered as one
// iovec; queue() turns it into a queue holding the same reference (no copy, no
// second reference); reset() releases it.
TEST(OutQueuePtr, LoneFrameBecomesAQueueWithTheSameReference) {
  const std::size_t before = frame_ref::live_frames();
  out_queue_ptr q;
  EXPECT_FALSE(q);
  EXPECT_EQ(q.pending(), 0u);
  iovec iov[4];
  EXPECT_EQ(q.gather(iov, 4), 0);
  {
    frame_ref f = frame_ref::make(bytes_of("hello"));
    q.hold_lone(f);
  }
  ASSERT_TRUE(q);
  EXPECT_TRUE(q.lone());
  EXPECT_EQ(frame_ref::live_frames(), before + 1);
  EXPECT_EQ(q.pending(), 5u);
  EXPECT_EQ(q.held(), 5u);
  ASSERT_EQ(q.gather(iov, 4), 1);
  EXPECT_EQ(std::string(static_cast<const char*>(iov[0].iov_base), iov[0].iov_len), "hello");

  out_queue& oq = q.queue();
  EXPECT_FALSE(q.lone());
  EXPECT_EQ(frame_ref::live_frames(), before + 1);
  EXPECT_EQ(oq.pending, 5u);
  oq.consume_front(2);
  oq.push_frame(frame_ref::make(bytes_of("!")));
  ASSERT_EQ(q.gather(iov, 4), 2);
  EXPECT_EQ(std::string(static_cast<const char*>(iov[0].iov_base), iov[0].iov_len), "llo");
  EXPECT_EQ(q.pending(), 4u);
  EXPECT_EQ(&q.queue(), &oq);  // already a queue: the same one
  q.reset();
  EXPECT_FALSE(q);
  EXPECT_EQ(frame_ref::live_frames(), before);
}

TEST(OutQueuePtr, ReleasesALoneFrameWhenResetOrDestroyed) {
  const std::size_t before = frame_ref::live_frames();
  {
    out_queue_ptr q;
    q.hold_lone(frame_ref::make(bytes_of("a")));
    q.reset();
    EXPECT_EQ(frame_ref::live_frames(), before);
    q.hold_lone(frame_ref::make(bytes_of("b")));
  }
  EXPECT_EQ(frame_ref::live_frames(), before);
  out_queue_ptr q;
  auto owned = std::make_unique<out_queue>();
  owned->push_frame(frame_ref::make(bytes_of("cd")));
  q.adopt(std::move(owned));
  EXPECT_FALSE(q.lone());
  EXPECT_EQ(q.held(), 2u);
  q.reset();
  EXPECT_EQ(frame_ref::live_frames(), before);
}

}  // namespace
