// Child process of the atomic-save test in safetensors.test.ts: rewrites one large safetensors file in a
// loop until it is killed. Generation g holds "big" (float32, N elements, big[i] = g * 1024 + i % 1021) and
// "gen" (int32 [g]), with metadata { gen: g }. Prints "start g" before each save and "done g" after it.
// Usage: node --import tsx test/support/safetensors-writer.ts <path> <elements> <first generation>
import { nn, setBackend, tensor } from '../../src/index.js';

function pattern(n: number, g: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = g * 1024 + (i % 1021);
  return a;
}

const [path, nArg, genArg] = process.argv.slice(2);
if (path && nArg && genArg) {
  setBackend('cpu');
  const n = Number(nArg);
  for (let g = Number(genArg); ; g++) {
    const dict = { big: tensor(pattern(n, g)), gen: tensor([g], { dtype: 'int32' }) };
    process.stdout.write(`start ${g}\n`);
    await nn.saveSafetensors(dict, path, { gen: String(g) });
    process.stdout.write(`done ${g}\n`);
    for (const t of Object.values(dict)) t.dispose();
  }
}
