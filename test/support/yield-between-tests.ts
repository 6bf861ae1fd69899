// Most tests here are synchronous (kernels run to completion on the calling thread), and vitest awaits
// them with microtasks only, so a file of synchronous tests can hold the worker's event loop for longer
// than the 60 s vitest allows its worker-to-runner messages ("Timeout calling onTaskUpdate" on a loaded
// machine). One macrotask turn after each test lets those messages through.
import { afterEach } from 'vitest';

afterEach(() => new Promise<void>((resolve) => setImmediate(resolve)));
