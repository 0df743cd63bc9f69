// zws/zws.hpp — everything: include this one header.
#pragma once

#include "zws/buffer.hpp"
#include "zws/client.hpp"
#include "zws/error.hpp"
#include "zws/frame.hpp"
#include "zws/handshake.hpp"
#include "zws/http.hpp"
#include "zws/loop.hpp"
#include "zws/reader.hpp"
#include "zws/redis.hpp"
#include "zws/server.hpp"
#include "zws/simd.hpp"
#include "zws/tls.hpp"
#include "zws/url.hpp"
#include "zws/utf8.hpp"
#include "zws/websocket.hpp"
#include "zws/writer.hpp"
