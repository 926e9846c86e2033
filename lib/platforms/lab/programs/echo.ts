/**
 * The lab's test workload: a small HTTP echo server run as a pod's program
 * (the lab's kubelet runs it for agnhost's `netexec` image). It answers
 * like agnhost netexec on the paths the project uses:
 *   /           {"pod","node","client","clientPort","server"} as JSON
 *   /hostname   the pod's name
 *   /clientip   "<client address>:<port>" (IPv6 in brackets)
 *   /healthz    ok
 *
 *   echo.ts --port 8080 --pod NAME --node NAME
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string', default: '8080' }, pod: { type: 'string', default: '' }, node: { type: 'string', default: '' } } });

const server = createServer((req, res) => {
  const client = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  const port = req.socket.remotePort ?? 0;
  const path = (req.url ?? '/').split('?')[0];
  const send = (status: number, body: string, type = 'text/plain') => {
    res.writeHead(status, { 'Content-Type': type });
    res.end(body);
  };
  if (path === '/healthz') return send(200, 'ok');
  if (path === '/hostname') return send(200, values.pod!);
  if (path === '/clientip') return send(200, client.includes(':') ? `[${client}]:${port}` : `${client}:${port}`);
  if (path === '/' || path === '/echo') {
    return send(200, `${JSON.stringify({ pod: values.pod, node: values.node, client, clientPort: port, server: req.socket.localAddress })}\n`, 'application/json');
  }
  send(404, 'not found');
});
server.listen(Number(values.port), '::', () => process.stdout.write(`echo: ${values.pod} on ${values.node} listening on [::]:${values.port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
