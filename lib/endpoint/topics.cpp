// lib/endpoint/topics.cpp — see topics.hpp.
#include "endpoint/topics.hpp"

#include <utility>

namespace zws::detail {

// ---- topic_census -----------------------------------------------------------

struct topic_census::entry {
  std::string name;
  std::atomic<std::int64_t> count{0};
  std::uint32_t loops = 0;  // loops holding the entry (guarded by the census lock)
};

topic_census::topic_census() = default;
topic_census::~topic_census() = default;

void topic_census::on_activity(topic_activity_hook hook) {
  const std::lock_guard lock(mutex_);
  hook_ = std::move(hook);
}

topic_census::entry* topic_census::acquire(std::string_view topic) {
  const std::lock_guard lock(mutex_);
  auto it = by_name_.find(topic);
  if (it == by_name_.end()) {
    auto e = std::make_unique<entry>();
    e->name = topic;
    const std::string_view key = e->name;
    it = by_name_.emplace(key, std::move(e)).first;
  }
  entry* e = it->second.get();
  if (e->loops++ == 0 && hook_) hook_(e->name, true);
  return e;
}

void topic_census::release(entry* e) {
  const std::lock_guard lock(mutex_);
  if (--e->loops != 0) return;
  if (hook_) hook_(e->name, false);
  by_name_.erase(std::string_view(e->name));
}

void topic_census::add(entry* e, std::int64_t delta) noexcept { e->count.fetch_add(delta, std::memory_order_relaxed); }

std::size_t topic_census::subscribers(std::string_view topic) const {
  const std::lock_guard lock(mutex_);
  const auto it = by_name_.find(topic);
  if (it == by_name_.end()) return 0;
  // Loops add and remove independently, so a sum caught mid-change can dip below zero.
  const std::int64_t n = it->second->count.load(std::memory_order_relaxed);
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

std::size_t topic_census::topics() const {
  const std::lock_guard lock(mutex_);
  return by_name_.size();
}

// ---- subscription_index -----------------------------------------------------

std::size_t subscription_index::home(std::uint64_t key) const noexcept {
  // Fibonacci hashing: the multiply spreads topic and subscriber bits over the top bits.
  return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
}

std::size_t subscription_index::locate(std::uint64_t key) const noexcept {
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = home(key);
  while (slots_[i].key != empty && slots_[i].key != key) i = (i + 1) & mask;
  return i;
}

subscription_index::where* subscription_index::find(std::uint32_t topic, subscriber_id s) noexcept {
  if (size_ == 0) return nullptr;
  const std::size_t i = locate(key_of(topic, s));
  return slots_[i].key == empty ? nullptr : &slots_[i].w;
}

void subscription_index::insert(std::uint32_t topic, subscriber_id s, where w) {
  // Grow past a load of 3/4: linear probing stays short below it.
  if ((size_ + 1) * 4 > slots_.size() * 3) rehash(slots_.empty() ? 16 : slots_.size() * 2);
  const std::uint64_t key = key_of(topic, s);
  slots_[locate(key)] = {key, w};
  ++size_;
}

void subscription_index::erase(std::uint32_t topic, subscriber_id s) noexcept {
  if (size_ == 0) return;
  const std::size_t mask = slots_.size() - 1;
  std::size_t hole = locate(key_of(topic, s));
  if (slots_[hole].key == empty) return;
  // Backward shift: pull later members of the probe run into the hole, so no
  // tombstones accumulate and lookups stop at the first empty slot.
  for (std::size_t j = (hole + 1) & mask; slots_[j].key != empty; j = (j + 1) & mask) {
    const std::size_t h = home(slots_[j].key);
    // Move j into the hole unless its home lies cyclically in (hole, j].
    const bool stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
    if (stays) continue;
    slots_[hole] = slots_[j];
    hole = j;
  }
  slots_[hole].key = empty;
  --size_;
  // Shrink below a load of 1/8 (not to zero: a topic that empties and fills again stays cheap).
  if (slots_.size() > 64 && size_ * 8 < slots_.size()) rehash(slots_.size() / 2);
}

void subscription_index::rehash(std::size_t capacity) {
  std::vector<slot> old = std::exchange(slots_, std::vector<slot>(capacity, slot{empty, {0, 0}}));
  unsigned bits = 0;
  while ((std::size_t{1} << bits) < capacity) ++bits;
  shift_ = 64 - bits;
  for (const slot& s : old)
    if (s.key != empty) slots_[locate(s.key)] = s;
}

// ---- topic_registry ---------------------------------------------------------

topic_registry::~topic_registry() {
  for (topic& tp : topics_) {
    if (tp.shared == nullptr) continue;
    topic_census::add(tp.shared, -static_cast<std::int64_t>(tp.live()));
    census_->release(tp.shared);
  }
}

std::uint32_t topic_registry::find_topic(std::string_view name) const noexcept {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? no_topic : it->second;
}

std::uint32_t topic_registry::make_topic(std::string_view name) {
  std::uint32_t t;
  if (!free_.empty()) {
    t = free_.back();
    free_.pop_back();
  } else {
    t = static_cast<std::uint32_t>(topics_.size());
    topics_.emplace_back();
    // So that free_topic never allocates; doubling keeps this amortized O(1).
    if (free_.capacity() < topics_.size()) free_.reserve(2 * topics_.size());
  }
  topics_[t].name = name;
  by_name_.emplace(std::string_view(topics_[t].name), t);
  return t;
}

bool topic_registry::subscribe(subscriber_id s, std::string_view name) {
  std::uint32_t t = find_topic(name);
  if (t == no_topic) t = make_topic(name);
  if (index_.find(t, s) != nullptr) return false;
  if (s >= by_subscriber_.size()) by_subscriber_.resize(std::size_t{s} + 1);
  topic& tp = topics_[t];
  std::vector<std::uint32_t>& mine = by_subscriber_[s];
  index_.insert(t, s, {static_cast<std::uint32_t>(tp.subs.size()), static_cast<std::uint32_t>(mine.size())});
  tp.subs.push_back(s);
  mine.push_back(t);
  if (tp.live() == 1) {
    if (census_ != nullptr) tp.shared = census_->acquire(tp.name);
    if (hook_) hook_(tp.name, true);
  }
  if (tp.shared != nullptr) topic_census::add(tp.shared, 1);
  return true;
}

bool topic_registry::unsubscribe(subscriber_id s, std::string_view name) {
  const std::uint32_t t = find_topic(name);
  if (t == no_topic) return false;
  const subscription_index::where* w = index_.find(t, s);
  if (w == nullptr) return false;
  remove(t, s, w->in_topic, w->in_subscriber);
  return true;
}

std::size_t topic_registry::unsubscribe_all(subscriber_id s) {
  if (s >= by_subscriber_.size()) return 0;
  std::size_t n = 0;
  // From the back: each removal is then a pop, and nothing else moves.
  while (!by_subscriber_[s].empty()) {
    const std::uint32_t t = by_subscriber_[s].back();
    const subscription_index::where* w = index_.find(t, s);
    remove(t, s, w->in_topic, w->in_subscriber);
    ++n;
  }
  std::vector<std::uint32_t>().swap(by_subscriber_[s]);  // a closed connection keeps no memory
  return n;
}

void topic_registry::remove(std::uint32_t t, subscriber_id s, std::uint32_t in_topic, std::uint32_t in_subscriber) {
  index_.erase(t, s);
  // The subscriber's side: the last topic takes the hole.
  std::vector<std::uint32_t>& mine = by_subscriber_[s];
  if (in_subscriber + 1 != mine.size()) {
    const std::uint32_t moved = mine.back();
    mine[in_subscriber] = moved;
    index_.find(moved, s)->in_subscriber = in_subscriber;
  }
  mine.pop_back();
  remove_from_topic(t, in_topic);
  topic& tp = topics_[t];
  if (tp.shared != nullptr) topic_census::add(tp.shared, -1);
  if (tp.live() == 0) became_empty(t);
}

void topic_registry::remove_from_topic(std::uint32_t t, std::uint32_t pos) noexcept {
  topic& tp = topics_[t];
  if (tp.depth != 0) {  // iterated: leave a hole, so no subscriber moves under the iteration
    tp.subs[pos] = none;
    ++tp.holes;
    return;
  }
  if (pos + 1 != tp.subs.size()) {
    const subscriber_id moved = tp.subs.back();
    tp.subs[pos] = moved;
    index_.find(t, moved)->in_topic = pos;
  }
  tp.subs.pop_back();
}

void topic_registry::became_empty(std::uint32_t t) {
  topic& tp = topics_[t];
  if (tp.shared != nullptr) {
    topic_census::entry* e = std::exchange(tp.shared, nullptr);
    census_->release(e);
  }
  if (hook_) hook_(tp.name, false);
  if (tp.depth == 0) free_topic(t);
}

void topic_registry::end_iteration(std::uint32_t t) noexcept {
  topic& tp = topics_[t];
  if (--tp.depth != 0) return;
  if (tp.holes != 0) compact(t);
  if (tp.subs.empty()) free_topic(t);
}

void topic_registry::compact(std::uint32_t t) noexcept {
  topic& tp = topics_[t];
  std::size_t to = 0;
  for (std::size_t from = 0; from < tp.subs.size(); ++from) {
    const subscriber_id s = tp.subs[from];
    if (s == none) continue;
    if (to != from) {
      tp.subs[to] = s;
      index_.find(t, s)->in_topic = static_cast<std::uint32_t>(to);
    }
    ++to;
  }
  tp.subs.resize(to);
  tp.holes = 0;
}

void topic_registry::free_topic(std::uint32_t t) noexcept {
  topic& tp = topics_[t];
  by_name_.erase(std::string_view(tp.name));
  std::string().swap(tp.name);
  std::vector<subscriber_id>().swap(tp.subs);
  tp.holes = 0;
  // Cannot allocate: make_topic reserved room for every topic id.
  free_.push_back(t);
}

bool topic_registry::subscribed(subscriber_id s, std::string_view name) const {
  const std::uint32_t t = find_topic(name);
  return t != no_topic && index_.find(t, s) != nullptr;
}

std::size_t topic_registry::subscribers(std::string_view name) const {
  const std::uint32_t t = find_topic(name);
  return t == no_topic ? 0 : topics_[t].live();
}

std::vector<std::string_view> topic_registry::topics(subscriber_id s) const {
  std::vector<std::string_view> out;
  if (s >= by_subscriber_.size()) return out;
  out.reserve(by_subscriber_[s].size());
  for (const std::uint32_t t : by_subscriber_[s]) out.emplace_back(topics_[t].name);
  return out;
}

}  // namespace zws::detail
