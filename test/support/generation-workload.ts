// Generation with the main job's sampler over a growing, then sliding, padded window, counting the kernels
// compiled after the first token. Shared by test/nn/generation-compiles.test.ts (Node) and the browser
// page (test/browser/page.ts): nothing here may import a Node-only module.
import { backendInfo, manualSeed } from '../../src/index.js';
import { CharTransformer, buildVocab, generate } from '../../examples/char-model.js';

export interface GenerationReport {
  /** the prompt and the generated characters */
  text: string;
  /** kernels compiled over the tokens after the first */
  compilesAfterFirst: number;
}

/** 14 tokens from a 2-character prompt (window lengths 2..8, then a full window sliding) after one warm-up token. */
export function padGeneration(): GenerationReport {
  manualSeed(3);
  const vocab = buildVocab('abcdefghij klmnop');
  const model = new CharTransformer(vocab.chars.length, { context: 8, embd: 16, heads: 2, layers: 1, dropout: 0 });
  generate(model, vocab, 'ab', 1, { fixedLength: true });
  const before = backendInfo().compiles;
  const text = generate(model, vocab, 'ab', 14, { fixedLength: true });
  return { text, compilesAfterFirst: backendInfo().compiles - before };
}
