/**
 * The lab's metadata service, in the internet namespace: what Equinix Metal's
 * metadata.platformequinix.com is to a device. GET /metadata answers the
 * asking machine's own metadata (found by its source address), in Equinix
 * Metal's JSON shape, BGP neighbors and the machine's MD5 password included
 * (as Equinix hands a device its own password); anything else is 404.
 *
 *   metadata.ts --listen IPV6 --port 80 --devices FILE
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { parseAddress } from '../../../net/ipv6.js';
import { publicIPv6, type Device } from '../../../cluster/devices.js';

const { values } = parseArgs({ options: { listen: { type: 'string' }, port: { type: 'string', default: '80' }, devices: { type: 'string' } } });
if (!values.listen || !values.devices) {
  console.error('metadata: --listen and --devices are required');
  process.exit(2);
}

function deviceFor(source: string): Device | undefined {
  // Read on every request: the lab rewrites the file when machines come and go.
  const devices = JSON.parse(readFileSync(values.devices!, 'utf8')) as Device[];
  let address: bigint;
  try {
    address = parseAddress(source.replace(/^::ffff:/, ''));
  } catch {
    return undefined;
  }
  return devices.find((d) => {
    const v6 = publicIPv6(d);
    return v6 !== undefined && parseAddress(v6.address) === address;
  });
}

const server = createServer((req, res) => {
  const device = req.url === '/metadata' ? deviceFor(req.socket.remoteAddress ?? '') : undefined;
  res.writeHead(device ? 200 : 404, { 'Content-Type': 'application/json', Connection: 'close' });
  res.end(device ? `${JSON.stringify(device)}\n` : '{"error":"not found"}\n');
  process.stdout.write(`${new Date().toISOString()} ${req.socket.remoteAddress} ${req.url} ${device ? 200 : 404}\n`);
});
server.listen(Number(values.port), values.listen, () => process.stdout.write(`metadata: listening on [${values.listen}]:${values.port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
