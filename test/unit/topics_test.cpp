#include "endpoint/topics.hpp"

#include <gtest/gtest.h>
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using zws::detail::subscriber_id;
using zws::detail::topic_census;
using zws::detail::topic_registry;
using zws::detail::subscription_index;

std::vector<subscriber_id> visit(topic_registry& r, std::string_view topic) {
  std::vector<subscriber_id> seen;
  r.for_each_subscriber(topic, [&](subscriber_id s) { seen.push_back(s); });
  std::sort(seen.begin(), seen.end());
  return seen;
}

std::vector<std::string> sorted(std::vector<std::string_view> v) {
  std::vector<std::string> out(v.begin(), v.end());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Topics, SubscribeUnsubscribeAndCounts) {
  topic_registry r;
  EXPECT_TRUE(r.subscribe(1, "a"));
  EXPECT_FALSE(r.subscribe(1, "a"));  // already
  EXPECT_TRUE(r.subscribe(2, "a"));
  EXPECT_TRUE(r.subscribe(2, "b"));
  EXPECT_EQ(r.subscribers("a"), 2u);
  EXPECT_EQ(r.subscribers("b"), 1u);
  EXPECT_EQ(r.subscribers("c"), 0u);
  EXPECT_EQ(r.topic_count(), 2u);
  EXPECT_EQ(r.subscription_count(), 3u);
  EXPECT_TRUE(r.subscribed(1, "a"));
  EXPECT_FALSE(r.subscribed(1, "b"));
  EXPECT_FALSE(r.subscribed(7, "a"));
  EXPECT_EQ(visit(r, "a"), (std::vector<subscriber_id>{1, 2}));

  EXPECT_TRUE(r.unsubscribe(1, "a"));
  EXPECT_FALSE(r.unsubscribe(1, "a"));
  EXPECT_FALSE(r.unsubscribe(1, "nope"));
  EXPECT_FALSE(r.unsubscribe(99, "b"));
  EXPECT_EQ(r.subscribers("a"), 1u);
  EXPECT_TRUE(r.unsubscribe(2, "a"));
  EXPECT_EQ(r.topic_count(), 1u);  // a topic exists while it has a subscriber
  EXPECT_EQ(visit(r, "a"), std::vector<subscriber_id>{});
}

TEST(Topics, NamesAreBinaryAndExact) {
  topic_registry r;
  const std::string nul("x\0y", 3);
  EXPECT_TRUE(r.subscribe(1, nul));
  EXPECT_TRUE(r.subscribe(1, "x"));
  EXPECT_TRUE(r.subscribe(1, ""));
  EXPECT_EQ(r.subscribers(nul), 1u);
  EXPECT_FALSE(r.subscribed(1, std::string("x\0z", 3)));
  EXPECT_EQ(sorted(r.topics(1)), (std::vector<std::string>{"", "x", nul}));
}

TEST(Topics, TopicsOfASubscriberAndUnsubscribeAll) {
  topic_registry r;
  for (const char* t : {"a", "b", "c", "d"}) r.subscribe(5, t);
  r.subscribe(6, "b");
  EXPECT_EQ(sorted(r.topics(5)), (std::vector<std::string>{"a", "b", "c", "d"}));
  r.unsubscribe(5, "b");  // from the middle: the others keep their places in the index
  EXPECT_EQ(sorted(r.topics(5)), (std::vector<std::string>{"a", "c", "d"}));
  EXPECT_TRUE(r.subscribed(5, "d"));
  EXPECT_EQ(r.unsubscribe_all(5), 3u);
  EXPECT_TRUE(r.topics(5).empty());
  EXPECT_EQ(r.unsubscribe_all(5), 0u);
  EXPECT_EQ(r.unsubscribe_all(1000), 0u);  // never seen
  EXPECT_EQ(r.topic_count(), 1u);
  EXPECT_EQ(r.subscribers("b"), 1u);
  EXPECT_EQ(r.subscription_count(), 1u);
}

TEST(Topics, FirstAndLastSubscriberHook) {
  topic_registry r;
  std::vector<std::pair<std::string, bool>> log;
  r.on_activity([&](std::string_view t, bool active) { log.emplace_back(std::string(t), active); });
  r.subscribe(1, "a");
  r.subscribe(2, "a");
  r.subscribe(2, "b");
  r.unsubscribe(1, "a");
  r.unsubscribe_all(2);
  r.subscribe(3, "a");
  using L = std::vector<std::pair<std::string, bool>>;
  // unsubscribe_all goes from the back of the subscriber's list: b, then a.
  EXPECT_EQ(log, (L{{"a", true}, {"b", true}, {"b", false}, {"a", false}, {"a", true}}));
}

// ---- fan-out with mutation ---------------------------------------------------

TEST(TopicsIteration, CallbackUnsubscribesItself) {
  topic_registry r;
  for (subscriber_id s = 0; s < 10; ++s) r.subscribe(s, "t");
  std::vector<subscriber_id> seen;
  r.for_each_subscriber("t", [&](subscriber_id s) {
    seen.push_back(s);
    r.unsubscribe(s, "t");
  });
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_EQ(r.subscribers("t"), 0u);
  EXPECT_EQ(r.topic_count(), 0u);  // freed when the iteration ended
}

TEST(TopicsIteration, RemovedBeforeTheirTurnAreSkippedAddedAreNotVisited) {
  topic_registry r;
  for (subscriber_id s = 0; s < 10; ++s) r.subscribe(s, "t");
  std::vector<subscriber_id> seen;
  r.for_each_subscriber("t", [&](subscriber_id s) {
    seen.push_back(s);
    if (s == 0) {
      for (subscriber_id o = 1; o < 10; o += 2) r.unsubscribe_all(o);  // connections closing
      r.subscribe(100, "t");
      r.subscribe(101, "t");
    }
  });
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<subscriber_id>{0, 2, 4, 6, 8}));
  EXPECT_EQ(visit(r, "t"), (std::vector<subscriber_id>{0, 2, 4, 6, 8, 100, 101}));
  EXPECT_EQ(r.subscribers("t"), 7u);
  // The holes were compacted: positions in the index are right again.
  for (subscriber_id s : {0u, 2u, 4u, 6u, 8u, 100u, 101u}) EXPECT_TRUE(r.unsubscribe(s, "t"));
  EXPECT_EQ(r.topic_count(), 0u);
}

TEST(TopicsIteration, ResubscribedDuringIterationIsVisitedAtMostOnce) {
  topic_registry r;
  for (subscriber_id s = 0; s < 4; ++s) r.subscribe(s, "t");
  std::multiset<subscriber_id> seen;
  r.for_each_subscriber("t", [&](subscriber_id s) {
    seen.insert(s);
    r.unsubscribe(s, "t");  // out and in again: moves to the end, past the iteration's end
    r.subscribe(s, "t");
    r.unsubscribe(3, "t");  // 3 leaves before its turn and comes back: not visited
    r.subscribe(3, "t");
  });
  EXPECT_EQ(seen, (std::multiset<subscriber_id>{0, 1, 2}));
  EXPECT_EQ(r.subscribers("t"), 4u);
}

TEST(TopicsIteration, NestedIterationOfTheSameTopic) {
  topic_registry r;
  for (subscriber_id s = 0; s < 6; ++s) r.subscribe(s, "t");
  std::size_t inner_calls = 0;
  std::vector<subscriber_id> outer;
  r.for_each_subscriber("t", [&](subscriber_id s) {
    outer.push_back(s);
    if (s == 0) {
      r.unsubscribe(5, "t");
      // An on_close that publishes to the same topic.
      inner_calls += r.for_each_subscriber("t", [&](subscriber_id i) {
        if (i == 1) r.unsubscribe_all(2);
      });
    }
  });
  EXPECT_EQ(inner_calls, 4u);  // 0, 1, 3, 4 (5 gone before, 2 gone before its turn)
  std::sort(outer.begin(), outer.end());
  EXPECT_EQ(outer, (std::vector<subscriber_id>{0, 1, 3, 4}));
  EXPECT_EQ(visit(r, "t"), (std::vector<subscriber_id>{0, 1, 3, 4}));
}

TEST(TopicsIteration, TopicEmptiedAndRefilledDuringIteration) {
  topic_registry r;
  std::vector<std::pair<std::string, bool>> log;
  r.on_activity([&](std::string_view t, bool a) { log.emplace_back(std::string(t), a); });
  r.subscribe(1, "t");
  r.subscribe(2, "t");
  r.for_each_subscriber("t", [&](subscriber_id s) {
    r.unsubscribe_all(1);
    r.unsubscribe_all(2);
    EXPECT_EQ(r.subscribers("t"), 0u);
    EXPECT_FALSE(r.subscribed(s, "t"));
    r.subscribe(9, "t");  // the topic is still there (iterated): it becomes active again
  });
  using L = std::vector<std::pair<std::string, bool>>;
  EXPECT_EQ(log, (L{{"t", true}, {"t", false}, {"t", true}}));
  EXPECT_EQ(visit(r, "t"), std::vector<subscriber_id>{9});
  EXPECT_EQ(r.topic_count(), 1u);
}

TEST(TopicsIteration, OtherTopicsChangeFreelyDuringIteration) {
  topic_registry r;
  for (subscriber_id s = 0; s < 100; ++s) r.subscribe(s, "t");
  std::size_t calls = r.for_each_subscriber("t", [&](subscriber_id s) {
    for (int k = 0; k < 50; ++k) r.subscribe(s, "other" + std::to_string(k));  // grows everything
    r.unsubscribe(s, "other7");
  });
  EXPECT_EQ(calls, 100u);
  EXPECT_EQ(r.topic_count(), 50u);
  EXPECT_EQ(r.subscribers("other7"), 0u);
  EXPECT_EQ(r.subscribers("other8"), 100u);
}

// ---- a random walk checked against a plain model --------------------------------

TEST(Topics, RandomOperationsMatchAModel) {
  topic_registry r;
  std::map<std::string, std::set<subscriber_id>> model;
  std::map<std::string, int> active;  // from the hook
  r.on_activity([&](std::string_view t, bool a) { active[std::string(t)] += a ? 1 : -1; });
  std::mt19937 rng(42);
  auto topic_name = [&] { return "t" + std::to_string(rng() % 40); };
  for (int step = 0; step < 40000; ++step) {
    const subscriber_id s = rng() % 60;
    const std::string t = topic_name();
    switch (rng() % 8) {
      case 0: case 1: case 2:
        EXPECT_EQ(r.subscribe(s, t), model[t].insert(s).second);
        break;
      case 3: case 4:
        EXPECT_EQ(r.unsubscribe(s, t), model[t].erase(s) == 1);
        break;
      case 5: {
        std::size_t n = 0;
        for (auto& [name, subs] : model) n += subs.erase(s);
        EXPECT_EQ(r.unsubscribe_all(s), n);
        break;
      }
      case 6: {  // fan-out that mutates: visits exactly those present at start and still present
        std::set<subscriber_id> start = model[t], seen;
        const subscriber_id victim = rng() % 60;
        r.for_each_subscriber(t, [&](subscriber_id v) {
          EXPECT_TRUE(start.count(v) == 1 && model[t].count(v) == 1);
          EXPECT_TRUE(seen.insert(v).second);
          if (v % 3 == 0) {
            r.unsubscribe(victim, t);
            model[t].erase(victim);
            r.subscribe(v + 100, t);
            model[t].insert(v + 100);
          }
        });
        break;
      }
      default:
        EXPECT_EQ(r.subscribed(s, t), model[t].count(s) == 1);
        EXPECT_EQ(r.subscribers(t), model[t].size());
    }
  }
  std::size_t subs = 0, topics = 0;
  for (auto& [name, set] : model) {
    subs += set.size();
    topics += !set.empty();
    EXPECT_EQ(visit(r, name), std::vector<subscriber_id>(set.begin(), set.end())) << name;
    EXPECT_EQ(active[name], set.empty() ? 0 : 1) << name;
  }
  EXPECT_EQ(r.subscription_count(), subs);
  EXPECT_EQ(r.topic_count(), topics);
  for (subscriber_id s = 0; s < 300; ++s) {
    std::vector<std::string> want;
    for (auto& [name, set] : model)
      if (set.count(s)) want.push_back(name);
    EXPECT_EQ(sorted(r.topics(s)), want) << s;
  }
}

TEST(SubscriptionIndex, InsertFindEraseAcrossGrowthAndShrink) {
  subscription_index ix;
  std::mt19937 rng(7);
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint32_t> model;
  for (int i = 0; i < 200000; ++i) {
    const std::uint32_t t = rng() % 500, s = rng() % 500;
    const bool grow = i < 100000 ? rng() % 4 != 0 : rng() % 4 == 0;
    if (grow) {
      if (!model.count({t, s})) {
        ix.insert(t, s, {static_cast<std::uint32_t>(i), 0});
        model[{t, s}] = static_cast<std::uint32_t>(i);
      }
    } else {
      ix.erase(t, s);
      model.erase({t, s});
    }
  }
  EXPECT_EQ(ix.size(), model.size());
  for (const auto& [k, v] : model) {
    const auto* w = ix.find(k.first, k.second);
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(w->in_topic, v);
  }
  for (const auto& [k, v] : model) ix.erase(k.first, k.second);
  EXPECT_EQ(ix.size(), 0u);
  EXPECT_LE(ix.capacity(), 64u);
}

// ---- across loops ------------------------------------------------------------

TEST(TopicCensus, CountsAndProcessWideFirstLastAcrossLoops) {
  topic_census census;
  std::vector<std::pair<std::string, bool>> log;
  census.on_activity([&](std::string_view t, bool a) { log.emplace_back(std::string(t), a); });
  topic_registry a(&census), b(&census);
  a.subscribe(1, "room");
  b.subscribe(1, "room");
  b.subscribe(2, "room");
  EXPECT_EQ(census.subscribers("room"), 3u);
  EXPECT_EQ(census.subscribers("other"), 0u);
  a.unsubscribe_all(1);
  EXPECT_EQ(census.subscribers("room"), 2u);
  b.unsubscribe(1, "room");
  b.unsubscribe(2, "room");
  EXPECT_EQ(census.subscribers("room"), 0u);
  EXPECT_EQ(census.topics(), 0u);
  using L = std::vector<std::pair<std::string, bool>>;
  EXPECT_EQ(log, (L{{"room", true}, {"room", false}}));  // once for the process, not per loop
}

TEST(TopicCensus, LoopsOnThreadsAgreeWhenStill) {
  topic_census census;
  std::atomic<int> firsts{0}, lasts{0};
  census.on_activity([&](std::string_view, bool a) { (a ? firsts : lasts).fetch_add(1); });
  constexpr int loops = 4;
  constexpr subscriber_id per_loop = 20000;
  std::barrier sync(loops + 1);
  std::vector<std::thread> threads;
  threads.reserve(loops);
  for (int l = 0; l < loops; ++l)
    threads.emplace_back([&census, &sync] {
      topic_registry r(&census);
      for (subscriber_id s = 0; s < per_loop; ++s) r.subscribe(s, "t" + std::to_string(s % 10));
      sync.arrive_and_wait();  // 1: all subscribed
      sync.arrive_and_wait();  // 2: counted
      for (subscriber_id s = 0; s < per_loop; s += 2) r.unsubscribe_all(s);
      sync.arrive_and_wait();  // 3: half gone
      sync.arrive_and_wait();  // 4: counted; the registry goes with what is left
    });
  sync.arrive_and_wait();
  for (int k = 0; k < 10; ++k) EXPECT_EQ(census.subscribers("t" + std::to_string(k)), loops * per_loop / 10);
  EXPECT_EQ(census.topics(), 10u);
  sync.arrive_and_wait();
  sync.arrive_and_wait();
  for (int k = 0; k < 10; ++k)
    EXPECT_EQ(census.subscribers("t" + std::to_string(k)), k % 2 ? loops * per_loop / 10 : 0u) << k;
  sync.arrive_and_wait();
  for (auto& t : threads) t.join();
  EXPECT_EQ(census.topics(), 0u);  // a registry that goes releases its topics
  EXPECT_EQ(firsts.load(), 10);
  EXPECT_EQ(lasts.load(), 10);
}

// ---- scale ---------------------------------------------------------------------

// Bytes handed out by malloc, small blocks and mmapped ones alike.
std::size_t heap_in_use() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

TEST(TopicsScale, HundredThousandTopicsAndAMillionSubscriptions) {
  constexpr std::uint32_t topics = 100'000, connections = 100'000, per_connection = 10;
  std::vector<std::string> names;
  names.reserve(topics);
  for (std::uint32_t t = 0; t < topics; ++t) names.push_back("room/" + std::to_string(t));
  const std::size_t heap0 = heap_in_use();
  const auto t0 = std::chrono::steady_clock::now();
  {
    topic_registry r;
    std::size_t heap1 = 0;
    // Pass 1: every topic gets one subscriber, connection 0 (which then has 100,000 topics).
    for (std::uint32_t t = 0; t < topics; ++t) r.subscribe(0, names[t]);
    heap1 = heap_in_use();
    // Pass 2: the other 900,000 subscriptions: connections 1..100,000 in 9 topics each.
    for (std::uint32_t c = 1; c <= connections; ++c)
      for (std::uint32_t k = 1; k < per_connection; ++k) r.subscribe(c, names[(c + k * 7919) % topics]);
    const std::size_t heap2 = heap_in_use();
    const auto t1 = std::chrono::steady_clock::now();
    ASSERT_EQ(r.topic_count(), topics);
    ASSERT_EQ(r.subscription_count(), std::size_t{connections} * (per_connection - 1) + topics);

    // The subscriptions after the first of each topic cost only subscription
    // memory; what the first pass cost beyond that is the topics'. (Under ASan
    // malloc is replaced and mallinfo2 sees nothing: then only time is shown.)
    const bool measured = heap2 > heap0;
    const double per_sub = double(heap2 - heap1) / double(r.subscription_count() - topics);
    const double per_topic = double(heap1 - heap0) / topics - per_sub;
    if (measured)
      std::printf("[ topics  ] %u topics, %zu subscriptions (%u connections): %.1f bytes per subscription, "
                  "%.1f bytes per topic (names of %zu..%zu bytes), %.1f MB in all\n",
                  topics, r.subscription_count(), connections, per_sub, per_topic, names.front().size(),
                  names.back().size(), double(heap2 - heap0) / 1e6);
    std::size_t visited = 0;
    for (std::uint32_t t = 0; t < topics; ++t) visited += r.for_each_subscriber(names[t], [](subscriber_id) {});
    EXPECT_EQ(visited, r.subscription_count());
    if (measured) {
      EXPECT_LT(per_sub, 64.0);  // index 16 B at load 3/8..3/4, two 4-byte array entries, vector slack
      EXPECT_LT(per_topic, 256.0);
    }

    const auto t2 = std::chrono::steady_clock::now();
    for (std::uint32_t c = 0; c <= connections; ++c) r.unsubscribe_all(c);
    const auto t3 = std::chrono::steady_clock::now();
    EXPECT_EQ(r.topic_count(), 0u);
    EXPECT_EQ(r.subscription_count(), 0u);
    using ms = std::chrono::duration<double, std::milli>;
    std::printf("[ topics  ] subscribe 1M: %.0f ms, fan-out walk 1M: %.0f ms, unsubscribe-all 1M: %.0f ms\n",
                ms(t1 - t0).count(), ms(t2 - t1).count(), ms(t3 - t2).count());
  }
  // What is left once the registry is gone is only malloc's bookkeeping.
  EXPECT_LT(heap_in_use(), heap0 + (std::size_t{1} << 20));
}

}  // namespace
