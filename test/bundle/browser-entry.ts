// Browser entry of the minified-bundle test (test/bundle.test.ts): exposes the program to the page, where
// the test calls globalThis.gpugradBundleTest.run(['webgl2', 'webgl']).
import { runProgram } from './program.js';

declare global {
  var gpugradBundleTest: { run: typeof runProgram };
}

globalThis.gpugradBundleTest = { run: runProgram };
