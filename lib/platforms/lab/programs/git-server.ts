/**
 * The lab's git server (lib/platforms/lab/gitServer.ts), in the internet
 * namespace: git's smart HTTP protocol by `git http-backend` for the bare
 * repositories under --root (fetch and push).
 *
 *   git-server.ts --listen ADDRESS [--listen ADDRESS...] --port 80 --root DIR
 *
 * Each --listen is one address (IPv6 or IPv4) the host answers on: a host
 * with only an IPv4 address answers over IPv4 only, as github.com does.
 */
import { parseArgs } from 'node:util';
import { createGitHttpServer } from '../provider/gitServer.js';

const { values } = parseArgs({ options: { listen: { type: 'string', multiple: true }, port: { type: 'string', default: '80' }, root: { type: 'string' } } });
if (!values.listen?.length || !values.root) {
  console.error('git-server: --listen and --root are required');
  process.exit(2);
}

const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
const root = values.root;
const servers = values.listen.map((address) => {
  const server = createGitHttpServer({ projectRoot: root, log });
  const shown = address.includes(':') ? `[${address}]` : address;
  server.listen(Number(values.port), address, () => log(`git-server: serving ${root} on http://${shown}:${values.port}/`));
  return server;
});
process.on('SIGTERM', () => {
  let open = servers.length;
  for (const server of servers) server.close(() => --open === 0 && process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
