// bench/node_echo.js — the Node `ws` echo server zws is compared with.
//
//   node bench/node_echo.js [PORT] [HOST]      (default 9003 on 127.0.0.1)
//
// Echoes every message with its own type (text or binary), no compression.
// `ws` is installed by bench/e2e.sh into bench/node_modules (npm ci).
'use strict';
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2] || 9003);
const host = process.argv[3] || '127.0.0.1';
const wss = new WebSocketServer({ host, port, perMessageDeflate: false, clientTracking: false, maxPayload: 64 << 20 });

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => ws.terminate());
});
wss.on('listening', () => process.stderr.write(`node_echo (ws ${require('ws/package.json').version}) listening on ${host}:${port}\n`));
wss.on('error', (err) => {
  process.stderr.write(`node_echo: ${err.message}\n`);
  process.exit(1);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
