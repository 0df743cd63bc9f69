"""Python websockets (Debian python3-websockets) client against a zws server.

    /usr/bin/python3 py_client.py NAME ECHO_URL LIMIT_URL ROUTE_URL

Same cases and URLs as ws_client.js. Prints one "ok - NAME: case" or
"not ok - NAME: case: why" line per case; every wait has a timeout.
"""
import asyncio
import os
import sys

import websockets

NAME, ECHO, LIMIT, ROUTE = sys.argv[1:5]
results = {"passed": 0, "failed": 0}


def connect(url):
    return websockets.connect(url, max_size=None, ping_interval=None,
                              close_timeout=5, open_timeout=10)


async def test(title, coro, seconds=60):
    try:
        await asyncio.wait_for(coro, seconds)
        results["passed"] += 1
        print(f"ok - {NAME}: {title}", flush=True)
    except BaseException as e:  # a timeout or a failed check, reported alike
        results["failed"] += 1
        print(f"not ok - {NAME}: {title}: {type(e).__name__}: {e}", flush=True)


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


async def recv(ws, seconds=10):
    return await asyncio.wait_for(ws.recv(), seconds)


async def echo_once(ws, data, seconds=10):
    await ws.send(data)
    got = await recv(ws, seconds)
    expect(type(got) is type(data), f"type {type(got).__name__}, sent {type(data).__name__}")
    expect(got == data, f"payload differs ({len(got)} back, {len(data)} sent)")


async def texts():
    async with connect(ECHO) as ws:
        for s in ["Hello WebSockets!", "你好，世界 こんにちは 안녕하세요", "🎉🚀 👩‍💻 é ß", ""]:
            await echo_once(ws, s)


async def binary_all_bytes():
    async with connect(ECHO) as ws:
        await echo_once(ws, bytes(range(256)))


async def binary_size(n):
    async with connect(ECHO) as ws:
        await echo_once(ws, os.urandom(n), 60)


async def in_order():
    async with connect(ECHO) as ws:
        for i in range(1000):
            await ws.send(f"message {i}")
        for i in range(1000):
            got = await recv(ws)
            expect(got == f"message {i}", f"message {i}: got {got[:40]!r}")


async def fragmented():
    async with connect(ECHO) as ws:
        text = "分片消息 🧩 " * 4000
        await ws.send([text[i:i + 5000] for i in range(0, len(text), 5000)])
        expect(await recv(ws) == text, "reassembled text differs")
        blob = os.urandom(100000)
        await ws.send([blob[:1], blob[1:50000], blob[50000:]])
        expect(await recv(ws) == blob, "reassembled binary differs")


async def ping_pong():
    async with connect(ECHO) as ws:
        waiter = await ws.ping(b"ping-123")
        await asyncio.wait_for(waiter, 5)
        await echo_once(ws, "after ping")


async def client_close():
    ident = f"{NAME}-{os.urandom(4).hex()}"
    ws = await connect(ROUTE + "/foo")
    await ws.send(f"id:{ident}")
    got = await recv(ws)
    expect(got == f"foo:id:{ident}", f"reply {got!r}")
    await ws.close(4000, "bye ✓ 再见")
    expect(ws.close_code == 4000, f"client saw close {ws.close_code}")
    seen = "none"
    for _ in range(50):
        async with connect(ROUTE + "/report") as r:
            await r.send(f"id:{ident}")
            seen = await recv(r)
        if seen != "none":
            break
        await asyncio.sleep(0.1)
    expect(seen == "4000 bye ✓ 再见", f"server saw {seen!r}")


async def server_close():
    async with connect(ROUTE + "/close") as ws:
        await ws.send("4001 server says bye ✓")
        try:
            await recv(ws)
            raise AssertionError("got a message instead of a close")
        except websockets.ConnectionClosed as e:
            expect(e.rcvd is not None, "no close frame received")
            expect((e.rcvd.code, e.rcvd.reason) == (4001, "server says bye ✓"),
                   f"client saw {e.rcvd.code} {e.rcvd.reason!r}")


async def limit():
    async with connect(LIMIT) as ws:
        await echo_once(ws, os.urandom(1024))
        await ws.send(os.urandom(1025))
        try:
            await recv(ws)
            raise AssertionError("too-large message was echoed")
        except websockets.ConnectionClosed as e:
            expect(e.rcvd is not None and e.rcvd.code == 1009,
                   f"client saw {e.rcvd.code if e.rcvd else 'no close frame'}")


async def main():
    await test("text ASCII, CJK, emoji", texts())
    await test("binary, every byte value", binary_all_bytes())
    for n in [0, 1, 125, 126, 127, 65535, 65536, 1 << 20, 16 << 20]:
        await test(f"binary {n} B", binary_size(n), 90)
    await test("1000 messages back-to-back, in order", in_order())
    await test("fragmented text and binary", fragmented())
    await test("ping answered by pong with the same payload", ping_pong())
    await test("client close 4000 + reason: echoed code, server saw code and reason", client_close())
    await test("server closes first with 4001 + reason", server_close())
    await test("server limit: 1024 B passes, 1025 B closes with 1009", limit())


asyncio.run(asyncio.wait_for(main(), 240))
sys.exit(1 if results["failed"] else 0)
