// zws-echo's command-line limits, seen from Node clients.
//   node echo_options.js URL
// URL is a zws-echo started with --threads 2 --handshake-timeout 1 --idle-timeout 1.
'use strict';
const net = require('net');
const WebSocket = require('ws');
const url = new URL(process.argv[2]);
let failed = 0;

function within(ms, p) {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error('timeout')), ms); })]).finally(() => clearTimeout(t));
}

async function test(title, fn) {
  try { await within(15000, fn()); console.log(`ok - zws-echo options: ${title}`); }
  catch (e) { failed++; console.log(`not ok - zws-echo options: ${title}: ${e.message}`); }
}

async function main() {
  await test('--handshake-timeout 1: half a request is answered 408 within 3 s', () => new Promise((resolve, reject) => {
    const started = Date.now();
    const sock = net.connect(Number(url.port), url.hostname, () => sock.write('GET / HTTP/1.1\r\nHost: x\r\n'));
    let reply = '';
    sock.on('data', d => { reply += d; });
    sock.on('error', reject);
    sock.on('close', () => {
      const secs = (Date.now() - started) / 1000;
      if (!reply.startsWith('HTTP/1.1 408')) reject(new Error(`reply "${reply.split('\r\n')[0]}"`));
      else if (secs < 0.5 || secs > 3) reject(new Error(`after ${secs} s`));
      else resolve();
    });
  }));
  await test('--idle-timeout 1: a live client is pinged and stays', async () => {
    const ws = new WebSocket(url.href);  // answers pings (autoPong)
    let pings = 0;
    ws.on('ping', () => { pings++; });
    await new Promise((res, rej) => { ws.on('open', res); ws.on('error', rej); });
    await new Promise(res => setTimeout(res, 2500));
    if (ws.readyState !== WebSocket.OPEN || pings === 0) throw new Error(`state ${ws.readyState}, ${pings} pings`);
    ws.close();
  });
  await test('--idle-timeout 1: a silent client is closed with 1001', async () => {
    const ws = new WebSocket(url.href, { autoPong: false });
    const started = Date.now();
    const code = await new Promise((res, rej) => { ws.on('close', c => res(c)); ws.on('error', rej); });
    const secs = (Date.now() - started) / 1000;
    if (code !== 1001 || secs > 5) throw new Error(`closed ${code} after ${secs} s`);
  });
  await test('--threads 2: 200 clients at once, each echoed', async () => {
    const one = i => new Promise((res, rej) => {
      const ws = new WebSocket(url.href);
      ws.on('open', () => ws.send(`client ${i}`));
      ws.on('message', d => { if (d.toString() === `client ${i}`) { ws.close(); res(); } else rej(new Error(`got ${d}`)); });
      ws.on('error', rej);
    });
    await Promise.all(Array.from({ length: 200 }, (_, i) => one(i)));
  });
}

main().then(() => process.exit(failed ? 1 : 0));
