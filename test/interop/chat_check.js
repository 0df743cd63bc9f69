// zws-chat's backpressure policy, with Node ws clients: a member that stops
// reading must not stall the room; it is dropped, the others go on. And rooms
// (/chat?room=NAME) are separate.
//   node chat_check.js ws://127.0.0.1:PORT/chat
'use strict';
const WebSocket = require('ws');
const url = process.argv[2];
let failed = 0;

function within(ms, p) {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error('timeout')), ms); })]).finally(() => clearTimeout(t));
}

function member(nick, room) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(room ? `${url}?room=${encodeURIComponent(room)}` : url);
    ws.lines = [];
    ws.on('error', reject);
    ws.on('close', (code, reason) => { ws.closedWith = `${code} ${reason}`; });
    ws.on('message', d => {
      const text = d.toString();
      ws.lines.push(text);
      if (text.startsWith('welcome\n')) resolve(ws);
      if (ws.waiter && ws.waiter()) ws.waiter = null;
    });
    ws.on('open', () => ws.send(`join\n${nick}`));
  });
}

function waitUntil(ws, pred, ms) {
  if (pred()) return Promise.resolve();
  return within(ms, new Promise(resolve => { ws.waiter = () => { if (!pred()) return false; resolve(); return true; }; }));
}

async function test(title, fn) {
  try { await within(60000, fn()); console.log(`ok - chat-backpressure: ${title}`); }
  catch (e) { failed++; console.log(`not ok - chat-backpressure: ${title}: ${e.message}`); }
}

async function main() {
  const fast = await member('fast');
  const slow = await member('slow');
  await waitUntil(fast, () => fast.lines.includes('join\nslow\n2'), 5000);
  slow._socket.pause();  // stops reading: the kernel buffers fill, then zws's queue
  const count = 4000, body = 'x'.repeat(4000);
  await test(`a member that stops reading is dropped; the other gets all ${count} messages`, async () => {
    // fast reads everything, and sends in rounds of 100 so it never has much
    // in flight itself; the 16 MB the room broadcasts pile up for slow.
    const mine = () => fast.lines.filter(l => l.startsWith('msg\nfast\n')).length;
    const why = () => `fast got ${mine()} of ${count}${fast.closedWith ? `, fast closed ${fast.closedWith}` : ''}; ` +
                      `slow dropped: ${fast.lines.some(l => l.startsWith('leave\nslow'))}`;
    for (let i = 0; i < count; i += 100) {
      for (let j = i; j < i + 100; j++) fast.send(`say\n${j} ${body}`);
      await waitUntil(fast, () => mine() === i + 100, 10000).catch(() => { throw new Error(why()); });
    }
    await waitUntil(fast, () => fast.lines.some(l => l.startsWith('leave\nslow\n')), 10000)
      .catch(() => { throw new Error(why()); });
    const order = fast.lines.filter(l => l.startsWith('msg\nfast\n')).every((l, i) => l.startsWith(`msg\nfast\n${i} `));
    if (!order) throw new Error('messages out of order');
  });
  await test('the room still works after the drop', async () => {
    const late = await member('late');
    late.send('say\nstill here');
    await waitUntil(fast, () => fast.lines.includes('msg\nlate\nstill here'), 5000);
    late.close();
  });
  await test('rooms are separate: a line said in one is not heard in another', async () => {
    const other = await member('other', 'other room');
    if (!other.lines[0].endsWith('\nother room')) throw new Error(`welcome: ${JSON.stringify(other.lines[0])}`);
    other.send('say\nonly here');
    fast.send('say\nin the lobby');
    await waitUntil(other, () => other.lines.includes('msg\nother\nonly here'), 5000);
    await waitUntil(fast, () => fast.lines.includes('msg\nfast\nin the lobby'), 5000);
    await new Promise(r => setTimeout(r, 200));
    if (other.lines.some(l => l.includes('in the lobby')) || fast.lines.some(l => l.includes('only here')))
      throw new Error('a line crossed rooms');
    other.close(); fast.close();
  });
  slow.terminate();
}

main().catch(e => { failed++; console.log(`not ok - chat-backpressure: ${e.message}`); })
  .finally(() => process.exit(failed ? 1 : 0));
