// Real sockets against a server on 127.0.0.1: a free port to listen on, and raw clients that
// connect and send what they are told (nothing, half a request, a drip).
import { connect, createServer, type Socket } from 'node:net';

export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
  const { port } = probe.address() as { port: number };
  await new Promise((done) => probe.close(done));
  return port;
}

/** Raw clients, each destroyed by destroyAll() (call it in afterEach). */
export function rawClients() {
  const sockets: Socket[] = [];
  return {
    /** A connection that sends `text` (nothing by default); resolves once it is connected. */
    connect(port: number, text = ''): Promise<{ socket: Socket; closed: Promise<string> }> {
      return new Promise((connected) => {
        const socket = connect(port, '127.0.0.1');
        sockets.push(socket);
        let received = '';
        socket.on('data', (chunk) => (received += String(chunk)));
        socket.on('error', () => undefined);
        const closed = new Promise<string>((done) => socket.on('close', () => done(received)));
        socket.on('connect', () => {
          if (text) socket.write(text);
          connected({ socket, closed });
        });
      });
    },
    destroyAll() {
      for (const socket of sockets.splice(0)) socket.destroy();
    },
  };
}
