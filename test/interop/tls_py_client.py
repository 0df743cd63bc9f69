"""Python websockets over TLS against zws-echo --tls-cert/--tls-key.

    python3 tls_py_client.py NAME WSS_URL CA_FILE [UNTRUSTED_WSS_URL]

An ssl context that trusts only the test CA (verification and host name check
on). Echoes every size class up to 16 MiB, 1,000 messages in order, a ping and
a close code; UNTRUSTED_WSS_URL must be refused. One "ok - NAME: case" or
"not ok - ..." line per case.
"""
import asyncio
import ssl
import sys

import websockets

name, url, ca = sys.argv[1:4]
untrusted = sys.argv[4] if len(sys.argv) > 4 else None
ctx = ssl.create_default_context(cafile=ca)
failures = 0


async def case(what, fn):
    global failures
    try:
        await asyncio.wait_for(fn(), 60)
        print(f"ok - {name}: {what}", flush=True)
    except Exception as e:  # noqa: BLE001 (any failure is reported, not raised)
        failures += 1
        print(f"not ok - {name}: {what}: {e!r}", flush=True)


def connect(u):
    return websockets.connect(u, ssl=ctx, max_size=64 << 20)


async def sizes():
    async with connect(url) as ws:
        for n in (0, 125, 126, 65536, 1 << 20, 16 << 20):
            b = bytes((i * 7 + n) & 0xFF for i in range(n)) if n <= 65536 else bytes([n & 0xFF]) * n
            await ws.send(b)
            assert await ws.recv() == b, f"size {n}"


async def in_order():
    async with connect(url) as ws:
        for i in range(1000):
            await ws.send(str(i))
        for i in range(1000):
            assert await ws.recv() == str(i), f"message {i}"


async def ping():
    async with connect(url) as ws:
        await asyncio.wait_for(await ws.ping(b"tls ping"), 5)


async def close_code():
    ws = await connect(url)
    await ws.close(4001, "bye")
    assert ws.close_code == 4001, ws.close_code


async def refused():
    try:
        async with connect(untrusted):
            pass
    except ssl.SSLCertVerificationError:
        return
    raise AssertionError("connected to an untrusted certificate")


async def main():
    await case("echo of every size class over wss", sizes)
    await case("1,000 text messages in order", in_order)
    await case("ping answered", ping)
    await case("close code 4001 echoed", close_code)
    if untrusted:
        await case("an untrusted certificate is refused", refused)


asyncio.run(main())
sys.exit(1 if failures else 0)
