// Node clients (ws 8 and WebSocket-Node) against a zws server.
//   node ws_client.js LIB NAME ECHO_URL LIMIT_URL ROUTE_URL
// LIB is "ws" or "websocket". ECHO_URL is a zws-echo, LIMIT_URL a zws-echo
// started with --max-message 1024, ROUTE_URL the base of route_server
// (/foo, /report, /close). Prints one "ok - NAME: case" or "not ok - ..."
// line per case; every wait has a timeout.
'use strict';
const crypto = require('crypto');
const [lib, name, echoUrl, limitUrl, routeUrl] = process.argv.slice(2);
if (!routeUrl) { console.error('usage: ws_client.js ws|websocket NAME ECHO_URL LIMIT_URL ROUTE_URL'); process.exit(2); }
const BIG = 64 << 20;

// One connection, the same shape for both libraries: send/ping/close, and
// awaitable next message, pong and close.
class Conn {
  constructor() { this.queue = []; this.waiters = []; this.pongs = []; this.closed = new Promise(r => { this.onClosed = r; }); }
  push(msg) { const w = this.waiters.shift(); if (w) w(msg); else this.queue.push(msg); }
  next(ms = 10000) {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    return within(ms, 'message', new Promise(r => this.waiters.push(r)));
  }
  pong(ms = 5000) { return within(ms, 'pong', new Promise(r => this.pongs.push(r))); }
  gotPong(data) { const w = this.pongs.shift(); if (w) w(data); }
  closedWithin(ms = 10000) { return within(ms, 'close', this.closed); }
}

function within(ms, what, promise) {
  let t;
  return Promise.race([promise, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`timeout waiting for ${what}`)), ms); })])
    .finally(() => clearTimeout(t));
}

function openWs(url) {
  const WebSocket = require('ws');
  return within(10000, 'open', new Promise((resolve, reject) => {
    const c = new Conn();
    const ws = new WebSocket(url, { maxPayload: BIG });
    ws.on('message', (data, isBinary) => c.push({ binary: isBinary, data: Buffer.from(data) }));
    ws.on('pong', d => c.gotPong(Buffer.from(d)));
    ws.on('close', (code, reason) => c.onClosed({ code, reason: reason.toString() }));
    ws.on('error', e => reject(e));
    ws.on('unexpected-response', (req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.on('open', () => {
      c.send = (data, binary) => ws.send(data, { binary });
      c.sendFragments = (parts, binary) => parts.forEach((p, i) => ws.send(p, { binary, fin: i === parts.length - 1 }));
      c.ping = d => ws.ping(d);
      c.close = (code, reason) => ws.close(code, reason);
      c.canFragment = true;
      resolve(c);
    });
  }));
}

function openWebSocketNode(url) {
  const { client: Client } = require('websocket');
  return within(10000, 'open', new Promise((resolve, reject) => {
    // Outgoing messages over 16 KiB go out as several frames: this library
    // fragments by itself, and only that way.
    const cl = new Client({ maxReceivedFrameSize: BIG, maxReceivedMessageSize: BIG,
                            fragmentOutgoingMessages: true, fragmentationThreshold: 16384 });
    cl.on('connectFailed', e => reject(e));
    cl.on('connect', conn => {
      const c = new Conn();
      conn.on('message', m => c.push(m.type === 'utf8' ? { binary: false, data: Buffer.from(m.utf8Data, 'utf8') }
                                                        : { binary: true, data: m.binaryData }));
      conn.on('pong', d => c.gotPong(Buffer.from(d)));
      conn.on('close', (code, reason) => c.onClosed({ code, reason }));
      conn.on('error', () => {});
      c.send = (data, binary) => binary ? conn.sendBytes(Buffer.from(data)) : conn.sendUTF(data.toString());
      c.sendFragments = (parts, binary) => c.send(Buffer.concat(parts.map(p => Buffer.from(p))), binary);
      c.ping = d => conn.ping(d);
      c.close = (code, reason) => conn.close(code, reason);
      c.canFragment = true;
      resolve(c);
    });
    cl.connect(url);
  }));
}

const open = lib === 'ws' ? openWs : openWebSocketNode;
let passed = 0, failed = 0;

async function test(title, fn, ms = 30000) {
  try {
    await within(ms, title, fn());
    passed++; console.log(`ok - ${name}: ${title}`);
  } catch (e) {
    failed++; console.log(`not ok - ${name}: ${title}: ${e && e.message || e}`);
  }
}

function expect(cond, msg) { if (!cond) throw new Error(msg); }

async function echoOnce(c, data, binary, ms) {
  c.send(data, binary);
  const m = await c.next(ms);
  expect(m.binary === binary, `opcode: got ${m.binary ? 'binary' : 'text'}`);
  const want = Buffer.from(data);
  expect(m.data.equals(want), `payload differs (${m.data.length} B back, ${want.length} B sent)`);
}

async function withConn(url, fn) {
  const c = await open(url);
  try { await fn(c); } finally { c.close(1000); await c.closedWithin(5000).catch(() => {}); }
}

async function main() {
  await test('text ASCII, CJK, emoji', () => withConn(echoUrl, async c => {
    for (const s of ['Hello WebSockets!', '你好，世界 こんにちは 안녕하세요', '🎉🚀 👩‍💻 é ß', ''])
      await echoOnce(c, s, false);
  }));
  await test('any path and query is echoed', () => withConn(`${echoUrl}some/deep/path?q=1&r=%20`, c => echoOnce(c, 'path', false)));
  await test('binary, every byte value', () => withConn(echoUrl, async c => {
    await echoOnce(c, Buffer.from([...Array(256).keys()]), true);
  }));
  for (const n of [0, 1, 125, 126, 127, 65535, 65536, 1 << 20, 16 << 20]) {
    await test(`binary ${n} B`, () => withConn(echoUrl, c => echoOnce(c, crypto.randomBytes(n), true, 60000)), 90000);
  }
  await test('text 1 MiB of CJK', () => withConn(echoUrl, c => echoOnce(c, '漢字'.repeat(1 << 18).slice(0, 349525), false)));
  await test('1000 messages back-to-back, in order', () => withConn(echoUrl, async c => {
    for (let i = 0; i < 1000; i++) c.send(`message ${i}`, false);
    for (let i = 0; i < 1000; i++) {
      const m = await c.next();
      expect(m.data.toString() === `message ${i}`, `message ${i}: got "${m.data.toString().slice(0, 40)}"`);
    }
  }));
  await test('fragmented text (code points split across frames) and binary', () => withConn(echoUrl, async c => {
    const text = Buffer.from('分片消息 🧩 '.repeat(4000));
    const parts = [];
    for (let at = 0; at < text.length; at += 16383) parts.push(text.subarray(at, Math.min(text.length, at + 16383)));
    c.sendFragments(parts, false);
    const m = await c.next();
    expect(!m.binary && m.data.equals(text), 'reassembled text differs');
    const bin = crypto.randomBytes(100000);
    c.sendFragments([bin.subarray(0, 1), bin.subarray(1, 50000), bin.subarray(50000)], true);
    const b = await c.next();
    expect(b.binary && b.data.equals(bin), 'reassembled binary differs');
  }));
  await test('ping answered by pong with the same payload', () => withConn(echoUrl, async c => {
    c.ping(Buffer.from('ping-123'));
    const p = await c.pong();
    expect(p.toString() === 'ping-123', `pong payload "${p}"`);
    await echoOnce(c, 'after ping', false);
  }));
  await test('client close 4000 + reason: echoed code, server saw code and reason', async () => {
    const id = `${name}-${crypto.randomBytes(4).toString('hex')}`;
    const c = await open(`${routeUrl}/foo`);
    c.send(`id:${id}`, false);
    const m = await c.next();
    expect(m.data.toString() === `foo:id:${id}`, `reply "${m.data}"`);
    c.close(4000, 'bye ✓ 再见');
    const cl = await c.closedWithin();
    expect(cl.code === 4000, `client saw close ${cl.code}`);
    let seen = 'none';
    for (let i = 0; i < 50 && seen === 'none'; i++) {
      const r = await open(`${routeUrl}/report`);
      r.send(`id:${id}`, false);
      seen = (await r.next()).data.toString();
      r.close(1000); await r.closedWithin().catch(() => {});
      if (seen === 'none') await new Promise(res => setTimeout(res, 100));
    }
    expect(seen === '4000 bye ✓ 再见', `server saw "${seen}"`);
  });
  await test('server closes first with 4001 + reason', async () => {
    const c = await open(`${routeUrl}/close`);
    c.send('4001 server says bye ✓', false);
    const cl = await c.closedWithin();
    expect(cl.code === 4001 && cl.reason === 'server says bye ✓', `client saw ${cl.code} "${cl.reason}"`);
  });
  await test('server limit: 1024 B passes, 1025 B closes with 1009', async () => {
    // Behind nginx, WebSocket-Node sometimes (a few %) sees 1006 instead: the
    // server's FIN right after its Close lets nginx reset the client side
    // before the Close frame is read. Node's own ws server shows the same
    // through nginx, so a 1006 is retried (twice); any other code fails.
    let seen = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const c = await open(limitUrl);
      await echoOnce(c, crypto.randomBytes(1024), true);
      c.send(crypto.randomBytes(1025), true);
      const cl = await c.closedWithin();
      seen.push(cl.code);
      if (cl.code !== 1006) break;
    }
    expect(seen[seen.length - 1] === 1009, `client saw close ${seen.join(', then ')}`);
    if (seen.length > 1) console.log(`# ${name}: 1009 after ${seen.length - 1} connection reset(s) (1006) through the proxy`);
  });
}

const guard = setTimeout(() => { console.log(`not ok - ${name}: whole suite timed out`); process.exit(1); }, 240000);
main().then(() => {
  clearTimeout(guard);
  process.exit(failed ? 1 : 0);
});
