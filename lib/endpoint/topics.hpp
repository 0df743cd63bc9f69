// lib/endpoint/topics.hpp — who is subscribed to what, on one loop.
//
// Internal. One topic_registry per loop (per server_loop), touched only by that
// loop's thread. A subscriber is a small integer the caller picks: the
// connection's reactor slot, unique among the live connections of a loop and
// dense, so the per-subscriber table is a plain vector. The caller must call
// unsubscribe_all(id) before the slot is reused (on close, before release_slot).
//
// Layout, per subscription (topic t, subscriber s):
//   - s in t's subscriber array (4 bytes): fan-out walks one contiguous array;
//   - t in s's topic array (4 bytes): ws.topics() and unsubscribe-all on close;
//   - one entry of an open-addressing index keyed by (t, s) holding both array
//     positions (16 bytes, load 3/8..3/4): subscribed, subscribe and unsubscribe
//     are O(1) expected — removal swaps the last element into the hole and fixes
//     the moved element's position through the index.
// unsubscribe_all(s) is O(topics of s). Topics are named by strings; a topic
// exists while it has a subscriber (or an iteration over it is running).
//
// Fan-out rule (for_each_subscriber): f is called at most once per subscriber,
// for every subscriber that was subscribed when the iteration began and still is
// when its turn comes. Subscriptions made during the iteration are not visited by
// it (they see the next publish). f may subscribe, unsubscribe and
// unsubscribe_all anyone (a send that closes a connection), and may start
// another iteration, of this topic too (an on_close that publishes). While a
// topic is iterated its removals leave holes that are compacted when the
// outermost iteration ends, so nothing moves under an iteration.
//
// Across loops: a topic_census shared by the loops of a server keeps one atomic
// counter per topic that every loop adds its subscribes and unsubscribes to
// (relaxed, one atomic add each), so server.subscribers(topic) is one lookup and
// one load from any thread — approximate while subscriptions change, exact when
// they are still. It also reports when a topic gains its first subscriber in the
// process and loses its last, which is when the Redis bridge must SUBSCRIBE or
// UNSUBSCRIBE the topic's channel.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace zws::detail {

using subscriber_id = std::uint32_t;

// Fired when a topic gains its first subscriber (active true) or loses its last
// (false), in the order the changes happened. A hook must not call back into the
// object that fired it; it should record or post the change and return.
using topic_activity_hook = std::function<void(std::string_view topic, bool active)>;

// The process-wide view of the topics of every loop of a server. Thread-safe.
class topic_census {
 public:
  struct entry;

  topic_census();
  ~topic_census();
  topic_census(const topic_census&) = delete;
  topic_census& operator=(const topic_census&) = delete;

  // Set before any loop runs. Called under the census lock, so the process-wide
  // first/last changes reach the hook in order (post them to the bridge's loop).
  void on_activity(topic_activity_hook hook);

  // A loop's topic gained its first local subscriber: the loop holds the
  // returned entry until release. Never null (throws bad_alloc only when out of memory).
  entry* acquire(std::string_view topic);
  // The loop's topic lost its last local subscriber.
  void release(entry* e);
  // Adds a loop's subscribe (+1) or unsubscribe (-1): one relaxed atomic add.
  static void add(entry* e, std::int64_t delta) noexcept;

  // Subscribers of `topic` over all loops: exact when no loop is changing it.
  std::size_t subscribers(std::string_view topic) const;
  // Topics with at least one subscriber somewhere.
  std::size_t topics() const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string_view, std::unique_ptr<entry>> by_name_;
  topic_activity_hook hook_;
};

// (topic, subscriber) -> (position in the topic's array, position in the
// subscriber's array). Open addressing, linear probing, backward-shift deletion.
class subscription_index {
 public:
  struct where {
    std::uint32_t in_topic;
    std::uint32_t in_subscriber;
  };

  // Null when absent. Valid until the next insert or erase.
  where* find(std::uint32_t topic, subscriber_id s) noexcept;
  const where* find(std::uint32_t topic, subscriber_id s) const noexcept {
    return const_cast<subscription_index*>(this)->find(topic, s);
  }
  // Adds an entry known to be absent.
  void insert(std::uint32_t topic, subscriber_id s, where w);
  void erase(std::uint32_t topic, subscriber_id s) noexcept;
  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return slots_.size(); }

 private:
  struct slot {
    std::uint64_t key;
    where w;
  };
  static constexpr std::uint64_t empty = ~std::uint64_t{0};
  static std::uint64_t key_of(std::uint32_t topic, subscriber_id s) noexcept {
    return (std::uint64_t{topic} << 32) | s;
  }
  std::size_t home(std::uint64_t key) const noexcept;
  std::size_t locate(std::uint64_t key) const noexcept;  // its slot, or an empty one
  void rehash(std::size_t capacity);

  std::vector<slot> slots_;
  std::size_t size_ = 0;
  unsigned shift_ = 64;
};

class topic_registry {
 public:
  // A subscriber id that is never valid (it marks holes while a topic is iterated).
  static constexpr subscriber_id none = ~subscriber_id{0};

  explicit topic_registry(topic_census* census = nullptr) noexcept : census_(census) {}
  // Gives the census back every topic still held (no activity hook is called).
  ~topic_registry();
  topic_registry(const topic_registry&) = delete;
  topic_registry& operator=(const topic_registry&) = delete;

  // Fired when a topic gains its first subscriber on this loop or loses its last.
  void on_activity(topic_activity_hook hook) { hook_ = std::move(hook); }

  // True when `s` was not subscribed and now is; false when it already was.
  // `s` is a small dense id (a reactor slot), never `none`.
  bool subscribe(subscriber_id s, std::string_view topic);
  // True when `s` was subscribed and no longer is.
  bool unsubscribe(subscriber_id s, std::string_view topic);
  // Every subscription of `s` (a closing connection). Returns how many.
  std::size_t unsubscribe_all(subscriber_id s);

  bool subscribed(subscriber_id s, std::string_view topic) const;
  // Subscribers of `topic` on this loop.
  std::size_t subscribers(std::string_view topic) const;
  // The topics of `s`, in no particular order. The views stay valid while `s`
  // remains subscribed to them.
  std::vector<std::string_view> topics(subscriber_id s) const;
  std::size_t topic_count() const noexcept { return by_name_.size(); }
  std::size_t subscription_count() const noexcept { return index_.size(); }

  // Calls f(subscriber_id) for the subscribers of `topic` under the fan-out rule
  // above. Returns how many calls were made.
  template <class F>
  std::size_t for_each_subscriber(std::string_view topic, F&& f) {
    const std::uint32_t t = find_topic(topic);
    if (t == no_topic) return 0;
    const iteration it(*this, t);
    std::size_t calls = 0;
    for (std::size_t i = 0; i < it.end; ++i) {
      const subscriber_id s = topics_[t].subs[i];
      if (s == none) continue;
      ++calls;
      f(s);
    }
    return calls;
  }

 private:
  static constexpr std::uint32_t no_topic = ~std::uint32_t{0};

  struct topic {
    std::string name;
    std::vector<subscriber_id> subs;  // holes (none) only while iterated
    std::uint32_t holes = 0;
    std::uint32_t depth = 0;          // iterations running
    topic_census::entry* shared = nullptr;
    std::size_t live() const noexcept { return subs.size() - holes; }
  };

  // Marks the topic as iterated for its lifetime; compacts and frees after the outermost.
  struct iteration {
    iteration(topic_registry& r, std::uint32_t t) noexcept : reg(r), id(t), end(r.topics_[t].subs.size()) {
      ++r.topics_[t].depth;
    }
    ~iteration() { reg.end_iteration(id); }
    iteration(const iteration&) = delete;
    iteration& operator=(const iteration&) = delete;
    topic_registry& reg;
    std::uint32_t id;
    std::size_t end;
  };

  std::uint32_t find_topic(std::string_view name) const noexcept;
  std::uint32_t make_topic(std::string_view name);
  void remove(std::uint32_t t, subscriber_id s, std::uint32_t in_topic, std::uint32_t in_subscriber);
  void remove_from_topic(std::uint32_t t, std::uint32_t pos) noexcept;
  void became_empty(std::uint32_t t);
  void end_iteration(std::uint32_t t) noexcept;
  void compact(std::uint32_t t) noexcept;
  void free_topic(std::uint32_t t) noexcept;

  std::deque<topic> topics_;  // stable addresses: by_name_ keys view the names
  std::vector<std::uint32_t> free_;
  std::unordered_map<std::string_view, std::uint32_t> by_name_;
  std::vector<std::vector<std::uint32_t>> by_subscriber_;  // topic ids of each subscriber
  subscription_index index_;
  topic_census* census_;
  topic_activity_hook hook_;
};

}  // namespace zws::detail
