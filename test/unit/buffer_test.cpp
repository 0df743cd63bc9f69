#include "zws/buffer.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

std::string str(const zws::buffer& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

TEST(Buffer, EmptyBufferOwnsNoMemory) {
  zws::buffer b;
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.capacity(), 0u);
  EXPECT_LE(sizeof(zws::buffer), 24u);
}

TEST(Buffer, AppendConsumeKeepsOrder) {
  zws::buffer b;
  std::string expect;
  for (int i = 0; i < 1000; ++i) {
    std::string piece(static_cast<std::size_t>(i % 37), static_cast<char>('a' + i % 26));
    b.append(piece);
    expect += piece;
    if (i % 3 == 0) {
      std::size_t n = expect.size() / 2;
      b.consume(n);
      expect.erase(0, n);
    }
    ASSERT_EQ(str(b), expect);
  }
}

TEST(Buffer, ConsumingEverythingResetsPosition) {
  zws::buffer b;
  b.append(std::string_view("hello"));
  b.consume(5);
  EXPECT_TRUE(b.empty());
  b.append(std::string_view("x"));
  EXPECT_EQ(str(b), "x");
}

TEST(Buffer, MoveTransfersOwnership) {
  zws::buffer a;
  a.append(std::string_view("payload"));
  zws::buffer b(std::move(a));
  EXPECT_EQ(str(b), "payload");
  EXPECT_EQ(a.capacity(), 0u);  // NOLINT(bugprone-use-after-move): moved-from state is specified
  a = std::move(b);
  EXPECT_EQ(str(a), "payload");
  a.release();
  EXPECT_EQ(a.capacity(), 0u);
}

TEST(Buffer, PrepareCommitGrows) {
  zws::buffer b;
  std::uint8_t* p = b.prepare(100000);
  for (int i = 0; i < 100000; ++i) p[i] = static_cast<std::uint8_t>(i);
  b.commit(100000);
  ASSERT_EQ(b.size(), 100000u);
  for (int i = 0; i < 100000; ++i) ASSERT_EQ(b.data()[i], static_cast<std::uint8_t>(i));
}

TEST(Buffer, RoomIsWhatFitsAfterTheEndWithoutGrowing) {
  zws::buffer b;
  EXPECT_EQ(b.room(), 0u);
  b.prepare(1000);
  const std::size_t cap = b.capacity();
  EXPECT_EQ(b.room(), cap);
  b.commit(600);
  EXPECT_EQ(b.room(), cap - 600);
  b.consume(100);  // the front is not room: only the end counts
  EXPECT_EQ(b.room(), cap - 600);
  const std::uint8_t* p = b.data();
  b.prepare(b.room());
  EXPECT_EQ(b.data(), p);  // all of it usable with no move
  EXPECT_EQ(b.capacity(), cap);
}

}  // namespace
