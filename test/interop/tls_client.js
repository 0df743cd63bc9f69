// Node ws over TLS against zws-echo --tls-cert/--tls-key.
//   NODE_EXTRA_CA_CERTS=ca.pem node tls_client.js NAME WSS_URL [UNTRUSTED_WSS_URL]
// The test CA is trusted through NODE_EXTRA_CA_CERTS (verification stays on).
// Echoes every size class up to 16 MiB, 1,000 messages in order, a ping and a
// close code; UNTRUSTED_WSS_URL (a server whose certificate no CA signed) must
// be refused. Prints one "ok - NAME: case" or "not ok - ..." line per case.
'use strict';
const WebSocket = require('ws');
const [name, url, untrusted] = process.argv.slice(2);
if (!url) { console.error('usage: tls_client.js NAME WSS_URL [UNTRUSTED_WSS_URL]'); process.exit(2); }

function within(ms, what, promise) {
  let t;
  return Promise.race([promise, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`timeout: ${what}`)), ms); })])
    .finally(() => clearTimeout(t));
}
function open(u) {
  const ws = new WebSocket(u, { maxPayload: 64 << 20 });
  ws.inbox = []; ws.waiters = [];
  ws.on('message', (d, binary) => { const w = ws.waiters.shift(); const m = { d, binary }; if (w) w(m); else ws.inbox.push(m); });
  return within(10000, 'open', new Promise((res, rej) => { ws.once('open', () => res(ws)); ws.once('error', rej); }));
}
function next(ws) {
  if (ws.inbox.length) return Promise.resolve(ws.inbox.shift());
  return within(20000, 'message', new Promise(r => ws.waiters.push(r)));
}
let failures = 0;
async function test(what, fn) {
  try { await fn(); console.log(`ok - ${name}: ${what}`); }
  catch (e) { failures++; console.log(`not ok - ${name}: ${what}: ${e.message}`); }
}
function check(cond, why) { if (!cond) throw new Error(why); }

(async () => {
  await test('echo of every size class over wss', async () => {
    const ws = await open(url);
    for (const n of [0, 125, 126, 65536, 1 << 20, 16 << 20]) {
      const b = Buffer.alloc(n); for (let i = 0; i < n; i++) b[i] = (i * 7 + n) & 0xff;
      ws.send(b);
      const m = await next(ws);
      check(m.binary && Buffer.compare(m.d, b) === 0, `size ${n} came back different`);
    }
    ws.close(1000);
  });
  await test('1,000 text messages in order', async () => {
    const ws = await open(url);
    for (let i = 0; i < 1000; i++) ws.send(String(i));
    for (let i = 0; i < 1000; i++) { const m = await next(ws); check(m.d.toString() === String(i), `message ${i}`); }
    ws.close(1000);
  });
  await test('ping answered with its payload', async () => {
    const ws = await open(url);
    const pong = within(5000, 'pong', new Promise(r => ws.once('pong', r)));
    ws.ping('tls ping');
    check((await pong).toString() === 'tls ping', 'pong payload');
    ws.close(1000);
  });
  await test('close code 4001 echoed', async () => {
    const ws = await open(url);
    const closed = within(5000, 'close', new Promise(r => ws.once('close', (code) => r(code))));
    ws.close(4001, 'bye');
    check(await closed === 4001, 'close code');
  });
  if (untrusted) {
    await test('an untrusted certificate is refused', async () => {
      let err = null;
      try { (await open(untrusted)).terminate(); } catch (e) { err = e; }
      check(err !== null, 'connected anyway');
    });
  }
  process.exit(failures ? 1 : 0);
})();
