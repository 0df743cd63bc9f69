// Node ws clients with permessage-deflate variants against zws-echo --deflate.
//   node deflate_client.js NAME WS_URL
// Per variant (ws defaults; server_no_context_takeover; client_no_context_takeover;
// client_max_window_bits=10; server_max_window_bits=11): the extension must be
// negotiated as asked (the 101's Sec-WebSocket-Extensions and ws.extensions),
// both sides must compress, and each compressor must keep or drop its context
// and window as agreed, seen in the bytes on the socket: 2000 random bytes
// sent twice cost tens of bytes the second time from a compressor that keeps
// its context in a window of more than 2000 B, about 2000 B from any other.
// Then echoes of several sizes, 1,000 messages in order, a close code.
// Prints one "ok - NAME: case" or "not ok - ..." line per case.
'use strict';
const crypto = require('crypto');
const WebSocket = require('ws');
const [name, url] = process.argv.slice(2);
if (!url) { console.error('usage: deflate_client.js NAME WS_URL'); process.exit(2); }

const variants = [
  ['ws defaults', {}],
  ['server_no_context_takeover', { serverNoContextTakeover: true }],
  ['client_no_context_takeover', { clientNoContextTakeover: true }],
  ['client_max_window_bits=10', { clientMaxWindowBits: 10 }],
  ['server_max_window_bits=11', { serverMaxWindowBits: 11 }],
];

function within(ms, what, promise) {
  let t;
  return Promise.race([promise, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`timeout: ${what}`)), ms); })])
    .finally(() => clearTimeout(t));
}
function open(options) {
  const ws = new WebSocket(url, { maxPayload: 64 << 20, perMessageDeflate: { threshold: 0, ...options } });
  ws.inbox = []; ws.waiters = [];
  ws.on('upgrade', res => { ws.answer = res.headers['sec-websocket-extensions'] || ''; ws.socket = res.socket; });
  ws.on('message', (d, binary) => { const w = ws.waiters.shift(); const m = { d, binary }; if (w) w(m); else ws.inbox.push(m); });
  ws.closed = new Promise(r => ws.on('close', code => r(code)));
  return within(10000, 'open', new Promise((res, rej) => { ws.once('open', () => res(ws)); ws.once('error', rej); }));
}
function next(ws) {
  if (ws.inbox.length) return Promise.resolve(ws.inbox.shift());
  return within(20000, 'message', new Promise(r => ws.waiters.push(r)));
}
// Sends one message, waits for its echo; returns the bytes written and read for it.
async function measured(ws, data, binary) {
  const read = ws.socket.bytesRead;
  const written = ws.socket.bytesWritten;
  ws.send(data, { binary });
  const m = await next(ws);
  if (m.binary !== binary || Buffer.compare(Buffer.from(m.d), Buffer.from(data)) !== 0) throw new Error('echo differs');
  return { w: ws.socket.bytesWritten - written, r: ws.socket.bytesRead - read };
}
const bits = (answer, param) => { const m = answer.match(new RegExp(`${param}=\"?(\\d+)`)); return m ? Number(m[1]) : 15; };

let failures = 0;
async function test(what, fn) {
  try { const extra = await fn(); console.log(`ok - ${name}: ${what}${extra ? ` (${extra})` : ''}`); }
  catch (e) { failures++; console.log(`not ok - ${name}: ${what}: ${e.message}`); }
}
function check(cond, why) { if (!cond) throw new Error(why); }

async function variant(title, options) {
  const t = s => `${title}: ${s}`;
  let ws = null;
  await test(t('negotiated as asked (101 answer and ws.extensions)'), async () => {
    ws = await open(options);
    const a = ws.answer;
    check(ws.extensions === 'permessage-deflate' && a.startsWith('permessage-deflate'), `extensions "${ws.extensions}", answer "${a}"`);
    if (options.serverNoContextTakeover) check(a.includes('server_no_context_takeover'), `answer "${a}"`);
    if (options.clientNoContextTakeover) check(a.includes('client_no_context_takeover'), `answer "${a}"`);
    if (options.clientMaxWindowBits) check(bits(a, 'client_max_window_bits') <= options.clientMaxWindowBits, `answer "${a}"`);
    if (options.serverMaxWindowBits) check(bits(a, 'server_max_window_bits') === options.serverMaxWindowBits, `answer "${a}"`);
    return a;
  });
  if (!ws) return;
  await test(t('64 KiB of text compressed both ways'), async () => {
    const { w, r } = await measured(ws, 'zws compresses this line again and again\n'.repeat(1600), false);
    check(w < 8192 && r < 8192, `wrote ${w} B, read ${r} B`);
    return `wrote ${w} B, read ${r} B`;
  });
  await test(t('each compressor keeps or resets its context as agreed'), async () => {
    const random = crypto.randomBytes(2000);
    await measured(ws, random, true);
    const { w, r } = await measured(ws, random, true);
    const a = ws.answer;
    const resets = side => a.includes(`${side}_no_context_takeover`) || bits(a, `${side}_max_window_bits`) <= 11;
    const want = (bytes, reset) => (reset ? bytes > 1500 : bytes < 300);
    const said = `repeat: wrote ${w} B (client ${resets('client') ? 'resets' : 'keeps'}), ` +
      `read ${r} B (zws ${resets('server') ? 'resets' : 'keeps'})`;
    check(want(w, resets('client')) && want(r, resets('server')), said);
    return said;
  });
  await test(t('echo of 0 B to 1 MiB, text and binary'), async () => {
    for (const n of [0, 1, 125, 126, 65535, 65536, 1 << 20]) {
      await measured(ws, crypto.randomBytes(n), true);
      await measured(ws, 'é'.repeat(n >> 1), false);
    }
  });
  await test(t('1,000 messages in order'), async () => {
    for (let i = 0; i < 1000; i++) ws.send(`message ${i} ${'x'.repeat(i % 100)}`);
    for (let i = 0; i < 1000; i++) {
      const m = await next(ws);
      check(m.d.toString() === `message ${i} ${'x'.repeat(i % 100)}`, `message ${i}: ${m.d.toString().slice(0, 40)}`);
    }
  });
  await test(t('close code 4001 echoed'), async () => {
    ws.close(4001, 'deflate bye');
    const code = await within(5000, 'close', ws.closed);
    check(code === 4001, `close code ${code}`);
  });
}

(async () => {
  for (const [title, options] of variants) await variant(title, options);
  process.exit(failures ? 1 : 0);
})();
