// bench/uws_echo.cpp — uWebSockets (C++) as a peer in the end-to-end benchmark.
//
// Not part of any zws build: uWebSockets is not a dependency of zws and its source is
// not in this repository. bench/uws_build.sh compiles this file against a checkout of
// uWebSockets and uSockets that you provide (UWS_DIR), the way their own build does
// (-O3 -march=native -flto, OpenSSL, zlib), into build/uws_echo; bench/e2e.sh then runs
// it beside zws-echo when E2E_UWS points at that binary.
//
//   uws_echo --port P [--tls-cert F --tls-key F]
//            [--deflate shared | dedicated] [--fanout]
//
//   (default)   echoes every message with its own opcode
//   --deflate   SHARED_COMPRESSOR | SHARED_DECOMPRESSOR, or DEDICATED_COMPRESSOR |
//               DEDICATED_DECOMPRESSOR (32 KiB windows, context kept); echoes compressed
//   --fanout    every connection subscribes to the topic "room"; every message received
//               is published to it with App::publish (sender included, as zws-echo --fanout)
#include "App.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace {

struct Options {
    int port = 9001;
    std::string cert, key;
    uWS::CompressOptions compression = uWS::DISABLED;
    bool compress = false;
    bool fanout = false;
};

[[noreturn]] void usage() {
    std::fprintf(stderr, "usage: uws_echo --port P [--tls-cert F --tls-key F] [--deflate shared|dedicated] [--fanout]\n");
    std::exit(2);
}

Options parse(int argc, char **argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        auto value = [&]() -> const char * { if (i + 1 >= argc) usage(); return argv[++i]; };
        if (a == "--port") o.port = std::atoi(value());
        else if (a == "--tls-cert") o.cert = value();
        else if (a == "--tls-key") o.key = value();
        else if (a == "--fanout") o.fanout = true;
        else if (a == "--deflate") {
            std::string_view mode = value();
            if (mode == "shared") o.compression = uWS::CompressOptions(uWS::SHARED_COMPRESSOR | uWS::SHARED_DECOMPRESSOR);
            else if (mode == "dedicated") o.compression = uWS::CompressOptions(uWS::DEDICATED_COMPRESSOR | uWS::DEDICATED_DECOMPRESSOR);
            else usage();
            o.compress = true;
        } else usage();
    }
    if (o.cert.empty() != o.key.empty()) usage();
    return o;
}

struct PerSocket {};

template <bool SSL>
void serve(uWS::TemplatedApp<SSL> &&app, const Options &o) {
    typename uWS::TemplatedApp<SSL>::template WebSocketBehavior<PerSocket> behavior;
    behavior.compression = o.compression;
    behavior.maxPayloadLength = 64u << 20;
    behavior.idleTimeout = 0;
    behavior.maxBackpressure = 64u << 20;
    behavior.sendPingsAutomatically = false;
    const bool compress = o.compress;
    if (o.fanout) {
        behavior.open = [](auto *ws) { ws->subscribe("room"); };
        behavior.message = [&app, compress](auto *, std::string_view message, uWS::OpCode op) {
            app.publish("room", message, op, compress);
        };
    } else {
        behavior.message = [compress](auto *ws, std::string_view message, uWS::OpCode op) {
            ws->send(message, op, compress);
        };
    }
    app.template ws<PerSocket>("/*", std::move(behavior))
        .listen("127.0.0.1", o.port, [&o](auto *socket) {
            if (!socket) {
                std::fprintf(stderr, "uws_echo: cannot listen on %d\n", o.port);
                std::exit(1);
            }
            std::fprintf(stderr, "uws_echo listening on 127.0.0.1:%d%s%s%s\n", o.port, o.cert.empty() ? "" : " (TLS)",
                         o.compress ? " (deflate)" : "", o.fanout ? " (fanout)" : "");
        })
        .run();
}

}  // namespace

int main(int argc, char **argv) {
    const Options o = parse(argc, argv);
    if (o.cert.empty()) {
        serve(uWS::App(), o);
    } else {
        uWS::SocketContextOptions tls;
        tls.key_file_name = o.key.c_str();
        tls.cert_file_name = o.cert.c_str();
        serve(uWS::SSLApp(tls), o);
    }
}
