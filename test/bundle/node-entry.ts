// Node entry of the minified-bundle test (test/bundle.test.ts): runs the program on the GPU.js modes given
// as the first argument (comma-separated) and prints its JSON report on one line after a marker.
import { runProgram } from './program.js';

const modes = (process.argv[2] ?? 'cpu').split(',').filter(Boolean);
console.log(`GPUGRAD_BUNDLE_REPORT ${JSON.stringify(runProgram(modes))}`);
