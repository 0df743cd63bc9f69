// lib/protocol/resp_reader.redis.cpp — resp_reader over hiredis's redisReader.
//
// hiredis parses; we build the reply. Its object callbacks fill a pool of nodes
// owned by the reader and reused from reply to reply (no allocation per message
// once warm), count what a reply has decoded so far, and refuse to go past
// max_reply, so neither a huge bulk length nor a huge array count can make us
// allocate it. A refusal surfaces from hiredis as its out-of-memory error,
// which the flag `refused` turns back into too_large.
#include <hiredis/read.h>

#include <algorithm>
#include <deque>
#include <string>
#include <vector>

#include "protocol/resp.hpp"

namespace zws::resp {

namespace {

struct node {
  int type = 0;
  long long integer = 0;
  std::string str;
  std::vector<node*> elements;
};

// What a node costs us beyond its string bytes, for the max_reply budget.
constexpr std::size_t node_cost = sizeof(node);
// An array's element slot (a node pointer).
constexpr std::size_t slot_cost = sizeof(void*);
// Nodes and string capacity kept between replies.
constexpr std::size_t keep_nodes = 64;
constexpr std::size_t keep_string = std::size_t{64} << 10;

}  // namespace

struct resp_reader::impl {
  redisReader* r = nullptr;
  std::size_t max_reply;
  std::deque<node> pool;  // stable addresses: parents point at children
  std::size_t used = 0;
  std::size_t decoded = 0;  // budget taken by the reply being built
  bool refused = false;     // a callback refused to grow past max_reply
  bool yielded = false;     // the last next() returned a reply: recycle its nodes
  status stuck = status::need_more;
  std::string why;

  explicit impl(std::size_t max) : max_reply(max) {}

  node* make(const redisReadTask* task, int type, std::size_t cost) {
    if (decoded + cost + node_cost > max_reply) {
      refused = true;
      return nullptr;
    }
    decoded += cost + node_cost;
    if (used == pool.size()) pool.emplace_back();
    node* n = &pool[used++];
    n->type = type;
    n->integer = 0;
    n->str.clear();
    n->elements.clear();
    if (task->parent != nullptr) static_cast<node*>(task->parent->obj)->elements[static_cast<std::size_t>(task->idx)] = n;
    return n;
  }

  void recycle() {
    if (pool.size() > keep_nodes) pool.resize(keep_nodes);
    for (node& n : pool)
      if (n.str.capacity() > keep_string) std::string().swap(n.str);
    used = 0;
    decoded = 0;
  }

  result fail(std::size_t consumed) {
    if (refused) {
      stuck = status::too_large;
      why = "a Redis reply larger than " + std::to_string(max_reply) + " bytes";
    } else {
      stuck = status::bad;
      why = r->err == REDIS_ERR_OOM ? "out of memory" : std::string("Redis protocol: ") + r->errstr;
    }
    return {consumed, stuck, {}};
  }
};

namespace {

resp_reader::impl* owner(const redisReadTask* task) { return static_cast<resp_reader::impl*>(task->privdata); }

void* create_string(const redisReadTask* task, char* s, std::size_t len) {
  node* n = owner(task)->make(task, task->type, len);
  if (n != nullptr) n->str.assign(s, len);
  return n;
}

// hiredis 0.14 (Debian 12) passes the count as int, 1.x as size_t.
template <class Count>
void* create_array(const redisReadTask* task, Count elements) {
  const auto count = static_cast<std::size_t>(elements);
  node* n = owner(task)->make(task, REDIS_REPLY_ARRAY, count * slot_cost);
  if (n != nullptr) n->elements.assign(count, nullptr);
  return n;
}

void* create_integer(const redisReadTask* task, long long value) {
  node* n = owner(task)->make(task, REDIS_REPLY_INTEGER, 0);
  if (n != nullptr) n->integer = value;
  return n;
}

// hiredis calls this for "$-1" and "*-1" alike, with the task typed string or array.
void* create_nil(const redisReadTask* task) { return owner(task)->make(task, REDIS_REPLY_NIL, 0); }

// Nodes belong to the pool: hiredis dropping a reply (on an error) frees nothing.
void free_object(void*) {}

// Named members, so a hiredis whose table has more members (1.x adds RESP3's
// doubles and booleans, which a RESP2 connection never receives) still builds.
redisReplyObjectFunctions functions = {
    .createString = create_string,
    .createArray = create_array,
    .createInteger = create_integer,
    .createNil = create_nil,
    .freeObject = free_object,
};

bool is_string(const node* n) {
  return n != nullptr && (n->type == REDIS_REPLY_STRING || n->type == REDIS_REPLY_STATUS);
}

// Decodes the replies of a subscribed connection (and the few others the bridge sends).
event classify(const node& root) {
  event ev;
  switch (root.type) {
    case REDIS_REPLY_ERROR:
      ev.kind = event_kind::error;
      ev.payload = root.str;
      return ev;
    case REDIS_REPLY_STATUS:
      ev.kind = root.str == "PONG" ? event_kind::pong : event_kind::status;
      if (ev.kind == event_kind::status) ev.payload = root.str;
      return ev;
    case REDIS_REPLY_INTEGER:
      ev.kind = event_kind::integer;
      ev.count = root.integer;
      return ev;
    case REDIS_REPLY_ARRAY:
      break;
    default:
      return ev;  // other
  }
  const std::vector<node*>& e = root.elements;
  if (e.empty() || !is_string(e[0])) return ev;
  const std::string_view what = e[0]->str;
  if (what == "message" && e.size() == 3 && is_string(e[1]) && is_string(e[2])) {
    ev.kind = event_kind::message;
    ev.channel = e[1]->str;
    ev.payload = e[2]->str;
  } else if (what == "pmessage" && e.size() == 4 && is_string(e[1]) && is_string(e[2]) && is_string(e[3])) {
    ev.kind = event_kind::pmessage;
    ev.pattern = e[1]->str;
    ev.channel = e[2]->str;
    ev.payload = e[3]->str;
  } else if (what == "pong" && e.size() == 2 && is_string(e[1])) {
    ev.kind = event_kind::pong;
    ev.payload = e[1]->str;
  } else if (e.size() == 3 && (is_string(e[1]) || e[1]->type == REDIS_REPLY_NIL) &&
             e[2]->type == REDIS_REPLY_INTEGER) {
    if (what == "subscribe") ev.kind = event_kind::subscribed;
    else if (what == "unsubscribe") ev.kind = event_kind::unsubscribed;
    else if (what == "psubscribe") ev.kind = event_kind::psubscribed;
    else if (what == "punsubscribe") ev.kind = event_kind::punsubscribed;
    else return ev;
    ev.channel = e[1]->str;  // "" for nil
    ev.count = e[2]->integer;
  }
  return ev;
}

}  // namespace

resp_reader::resp_reader(std::size_t max_reply) : impl_(std::make_unique<impl>(max_reply)) {
  impl_->r = redisReaderCreateWithFunctions(&functions);
  if (impl_->r == nullptr) {
    impl_->stuck = status::bad;
    impl_->why = "out of memory";
    return;
  }
  impl_->r->privdata = impl_.get();
}

resp_reader::~resp_reader() { redisReaderFree(impl_->r); }

bool resp_reader::available() noexcept { return true; }

std::string_view resp_reader::error() const noexcept { return impl_->why; }

result resp_reader::next(std::span<const std::uint8_t> bytes) {
  impl& m = *impl_;
  if (m.stuck != status::need_more) return {0, m.stuck, {}};
  if (m.yielded) {
    m.recycle();
    m.yielded = false;
  }
  std::size_t consumed = 0;
  for (;;) {
    void* reply = nullptr;
    if (redisReaderGetReply(m.r, &reply) != REDIS_OK) return m.fail(consumed);
    if (reply != nullptr) {
      m.yielded = true;
      return {consumed, status::event, classify(*static_cast<node*>(reply))};
    }
    // Whatever is buffered now is one incomplete reply.
    const std::size_t pending = m.r->len - m.r->pos;
    if (pending + m.decoded > m.max_reply) {
      m.refused = true;
      return m.fail(consumed);
    }
    if (consumed == bytes.size()) return {consumed, status::need_more, {}};
    // Grow the step with the pending reply (hiredis rescans an incomplete line
    // from its start on every call), but never past max_reply + feed_step.
    const std::size_t step = std::max(feed_step, std::min(pending, m.max_reply - pending - m.decoded));
    const std::size_t n = std::min(step, bytes.size() - consumed);
    if (redisReaderFeed(m.r, reinterpret_cast<const char*>(bytes.data() + consumed), n) != REDIS_OK)
      return m.fail(consumed);
    consumed += n;
  }
}

}  // namespace zws::resp
