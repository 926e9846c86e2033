/**
 * The lab's git server (lib/platforms/lab/gitServer.ts), in the internet
 * namespace: git's smart HTTP protocol by `git http-backend` for the bare
 * repositories under --root (fetch and push).
 *
 *   git-server.ts --listen IPV6 --port 80 --root DIR
 */
import { parseArgs } from 'node:util';
import { createGitHttpServer } from '../provider/gitServer.js';

const { values } = parseArgs({ options: { listen: { type: 'string' }, port: { type: 'string', default: '80' }, root: { type: 'string' } } });
if (!values.listen || !values.root) {
  console.error('git-server: --listen and --root are required');
  process.exit(2);
}

const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
const server = createGitHttpServer({ projectRoot: values.root, log });
server.listen(Number(values.port), values.listen, () => log(`git-server: serving ${values.root} on http://[${values.listen}]:${values.port}/`));
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
