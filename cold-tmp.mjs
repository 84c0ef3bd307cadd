import { readFileSync } from 'node:fs';
import { transpileBytes } from '@bytecodealliance/jco-transpile';
const out = await transpileBytes(new Uint8Array(readFileSync('/work/main/guest-modules/dist/pam_debug.wasm')), { name: 'm', instantiation: { tag: 'sync' } });
const core = out.files['m.core.wasm'];
const { meterCoreModule } = await import('/tmp/meterdev/meter.js');
const ts = [];
for (let i = 0; i < 6; i++) { const c0 = process.cpuUsage(); const t0 = performance.now(); meterCoreModule(core, {}); const c = process.cpuUsage(c0); ts.push(`${(performance.now() - t0).toFixed(2)}wall/${((c.user + c.system) / 1000).toFixed(2)}cpu`); }
console.log('pam_debug core', core.length, 'bytes:', ts.join(' '));
