// A long-lived TCP flow for the HA tests: `server HOST PORT` streams bytes to every client;
// `client HOST PORT` connects, counts what arrives and prints its status as one JSON line every
// 100 ms (and once more when the connection ends). Runs under plain node inside a namespace.
import net from 'node:net';

const [mode, host, portText] = process.argv.slice(2);
const port = Number(portText);
const CHUNK = Buffer.alloc(1024, 120);
const WRITE_EVERY_MS = 10;
// Writes stop while this much is queued, so a stalled path does not pile up memory.
const MAX_QUEUED_BYTES = 64 * 1024;

if (mode === 'server') {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    const timer = setInterval(() => {
      if (socket.writableLength < MAX_QUEUED_BYTES) socket.write(CHUNK);
    }, WRITE_EVERY_MS);
    socket.on('error', (error) => console.log(JSON.stringify({ event: 'error', code: error.code })));
    socket.on('close', () => clearInterval(timer));
  });
  server.listen(port, host, () => console.log(JSON.stringify({ event: 'listening' })));
} else if (mode === 'client') {
  const status = { connected: false, closed: false, bytes: 0, resets: 0, errors: [], maxGapMs: 0 };
  let lastDataAt = 0;
  const report = () => console.log(JSON.stringify(status));
  const socket = net.connect({ host, port });
  socket.on('connect', () => {
    status.connected = true;
    lastDataAt = performance.now();
  });
  socket.on('data', (data) => {
    const now = performance.now();
    status.maxGapMs = Math.max(status.maxGapMs, Math.round(now - lastDataAt));
    lastDataAt = now;
    status.bytes += data.length;
  });
  socket.on('error', (error) => {
    status.errors.push(error.code ?? String(error));
    if (error.code === 'ECONNRESET') status.resets += 1;
  });
  socket.on('close', () => {
    status.closed = true;
    report();
    process.exit(0);
  });
  setInterval(report, 100);
} else {
  console.error('usage: tcp-stream.mjs server|client HOST PORT');
  process.exit(2);
}
