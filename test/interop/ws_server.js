// A Node `ws` 8 server for the zws client tests.
//   node ws_server.js PORT [--tls CERT KEY] [--deflate JSON]
// --tls: wss:// (https server) with that certificate chain and key.
// --deflate: accept permessage-deflate with these `perMessageDeflate` options
// ("{}" for ws's defaults; threshold 0 unless given, so every message is compressed).
// Paths (the same in py_server.py):
//   /echo         echoes with the same opcode; a first message "id:X" names the
//                 connection, and its close code and reason are kept for /report
//   /report       answers "id:X" with "CODE REASON" of that closed connection, or "none"
//   /limit        like /echo, but messages over 1024 B close with 1009
//   /refuse       refuses the upgrade with 403
//   /close-first  the server closes first, with 4002 "server bye ✓"
//   /echo-client  sends three messages, expects them back unchanged, then
//                 closes with 1000 "echo ok" (or 4003 and what differed)
//   /ping         pings with "are you there?", closes with 1000 "pong ok" on
//                 the right pong
//   /wire         first sends "ext VALUE" (the Sec-WebSocket-Extensions answer,
//                 "ext " without one); then echoes each message and follows the
//                 echo with "wire R W": bytes read from the socket for that
//                 message and written for its echo, frame headers included
//                 (how well each side compressed it)
// Every close is also logged as a line "close PATH CODE REASON".
'use strict';
const fs = require('fs');
const http = require('http');
const https = require('https');
const WebSocket = require('ws');

const port = Number(process.argv[2]);
const opt = name => { const i = process.argv.indexOf(name); return i < 0 ? null : process.argv.slice(i + 1); };
const tls = opt('--tls');
const deflateArg = opt('--deflate');
const perMessageDeflate = deflateArg ? { threshold: 0, ...JSON.parse(deflateArg[0]) } : false;
const closes = new Map();
const notFound = (req, res) => { res.writeHead(404); res.end('not a websocket path\n'); };
const server = tls ? https.createServer({ cert: fs.readFileSync(tls[0]), key: fs.readFileSync(tls[1]) }, notFound)
  : http.createServer(notFound);
const normal = new WebSocket.WebSocketServer({ noServer: true, maxPayload: 64 << 20, perMessageDeflate });
const small = new WebSocket.WebSocketServer({ noServer: true, maxPayload: 1024, perMessageDeflate });
// The extensions answer of each upgrade, kept on its request for /wire.
normal.on('headers', (headers, req) => {
  req.extensionsAnswer = (headers.find(h => /^sec-websocket-extensions:/i.test(h)) || '').replace(/^[^:]*:\s*/, '');
});
const paths = new Set(['/echo', '/report', '/limit', '/close-first', '/echo-client', '/ping', '/wire']);

server.on('upgrade', (req, socket, head) => {
  const p = req.url.split('?')[0];
  if (p === '/refuse' || !paths.has(p)) {
    socket.end(`HTTP/1.1 ${p === '/refuse' ? '403 Forbidden' : '404 Not Found'}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    return;
  }
  (p === '/limit' ? small : normal).handleUpgrade(req, socket, head, ws => serve(p, ws, req, socket));
});

function serve(p, ws, req, socket) {
  let id = null;
  ws.on('error', () => {});
  ws.on('close', (code, reason) => {
    console.log(`close ${p} ${code} ${reason.toString()}`);
    if (id) closes.set(id, `${code} ${reason.toString()}`);
  });
  switch (p) {
    case '/echo': case '/limit':
      ws.on('message', (data, isBinary) => {
        if (!id && !isBinary && data.toString().startsWith('id:')) id = data.toString().slice(3);
        ws.send(data, { binary: isBinary });
      });
      break;
    case '/report':
      ws.on('message', data => ws.send(closes.get(data.toString().slice(3)) || 'none'));
      break;
    case '/close-first':
      ws.close(4002, 'server bye ✓');
      break;
    case '/echo-client': {
      const sent = [['text', Buffer.from('hello')], ['text', Buffer.from('你好 🌍')], ['binary', Buffer.from([0, 1, 2, 255])]];
      const got = [];
      ws.on('message', (data, isBinary) => {
        got.push([isBinary ? 'binary' : 'text', Buffer.from(data)]);
        if (got.length < sent.length) return;
        const bad = sent.findIndex(([t, d], i) => got[i][0] !== t || !got[i][1].equals(d));
        if (bad < 0) ws.close(1000, 'echo ok'); else ws.close(4003, `message ${bad} differs`);
      });
      for (const [t, d] of sent) ws.send(d, { binary: t === 'binary' });
      break;
    }
    case '/wire': {
      // Counts are taken while nothing else is in flight: the client sends a
      // message only after the previous "wire" line arrived.
      let read = socket.bytesRead, written = socket.bytesWritten;
      ws.send(`ext ${req.extensionsAnswer || ''}`, () => { written = socket.bytesWritten; });
      ws.on('message', (data, isBinary) => {
        const r = socket.bytesRead - read;
        read = socket.bytesRead;
        ws.send(data, { binary: isBinary }, () => {
          const w = socket.bytesWritten - written;
          ws.send(`wire ${r} ${w}`, () => { written = socket.bytesWritten; });
        });
      });
      break;
    }
    case '/ping':
      ws.on('pong', data => ws.close(data.toString() === 'are you there?' ? 1000 : 4004, data.toString() === 'are you there?' ? 'pong ok' : 'bad pong'));
      ws.ping('are you there?');
      break;
  }
}

server.listen(port, '127.0.0.1', () => console.log(`listening ${port}`));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
