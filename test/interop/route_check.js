// Routing and adopt (noServer), checked with Node ws clients.
//   node route_check.js ROUTE_BASE ADOPT_BASE
// ROUTE_BASE is route_server (/foo and /bar, two behaviors; other paths 404).
// ADOPT_BASE is adopt_server: its own HTTP server answers plain requests and
// hands upgrade requests (socket + bytes read) to Server::adopt.
'use strict';
const http = require('http');
const WebSocket = require('ws');
const [routeBase, adoptBase] = process.argv.slice(2);
let failed = 0;

function within(ms, p) {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error('timeout')), ms); })]).finally(() => clearTimeout(t));
}

async function test(title, fn) {
  try { await within(10000, fn()); console.log(`ok - routing: ${title}`); }
  catch (e) { failed++; console.log(`not ok - routing: ${title}: ${e.message}`); }
}

// Opens url, sends each message, returns the replies and the close code.
function talk(url, messages) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const replies = [];
    ws.on('unexpected-response', (req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
    ws.on('error', reject);
    ws.on('open', () => messages.forEach(m => ws.send(m)));
    ws.on('message', (d, isBinary) => {
      replies.push(isBinary ? d : d.toString());
      if (replies.length === messages.length) ws.close(1000, 'done');
    });
    ws.on('close', (code, reason) => resolve({ replies, code, reason: reason.toString() }));
  });
}

async function refused(url, status) {
  try { await talk(url, ['x']); } catch (e) {
    if (e.status === status) return;
    throw new Error(`refused with ${e.message}, wanted HTTP ${status}`);
  }
  throw new Error('upgrade was accepted');
}

function same(got, want) {
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`got ${JSON.stringify(got)}, wanted ${JSON.stringify(want)}`);
}

async function main() {
  await test('/foo served by the foo behavior', async () => {
    const r = await talk(`${routeBase}/foo`, ['a', 'b']);
    same([r.replies, r.code], [['foo:a', 'foo:b'], 1000]);
  });
  await test('/bar served by the bar behavior, same port', async () => {
    const r = await talk(`${routeBase}/bar`, ['a', 'b']);
    same([r.replies, r.code], [['bar:a', 'bar:b'], 1000]);
  });
  await test('/foo and /bar at once, each its own behavior', async () => {
    const [f, b] = await Promise.all([talk(`${routeBase}/foo`, ['1']), talk(`${routeBase}/bar`, ['2'])]);
    same([f.replies, b.replies], [['foo:1'], ['bar:2']]);
  });
  await test('an unknown path is refused with 404', () => refused(`${routeBase}/baz`, 404));
  await test('the root path is refused with 404', () => refused(`${routeBase}/`, 404));
  await test('adopt: the plain HTTP server answers its own requests', async () => {
    const body = await new Promise((resolve, reject) => {
      http.get(`${adoptBase.replace('ws:', 'http:')}/hello`, res => {
        let b = ''; res.on('data', d => { b += d; }); res.on('end', () => resolve(`${res.statusCode} ${b}`));
      }).on('error', reject);
    });
    same(body, '200 plain http server\n');
  });
  await test('adopt: upgrade handed over with the bytes read, then echo', async () => {
    const r = await talk(`${adoptBase}/adopted`, ['one', 'two', '三']);
    same([r.replies, r.code], [['one', 'two', '三'], 1000]);
  });
  await test('adopt: ten connections one after another', async () => {
    for (let i = 0; i < 10; i++) same((await talk(`${adoptBase}/adopted`, [`n${i}`])).replies, [`n${i}`]);
  });
}

main().then(() => process.exit(failed ? 1 : 0));
