// dependency-cruiser config for `npm run lint:deps` (depcruise src): the layering of src/.
//
// Layers, lowest first; a folder imports only from itself and the folders below it (plus npm packages and
// node builtins). Type-only imports (`import type`, `import { type X }`, `typeof import('...')`) count
// like any other import: tsPreCompilationDeps makes dependency-cruiser see them (it marks them 'type-only').
//
//   src/backend   -> backend
//   src/helpers   -> helpers
//   src/kernels   -> kernels, backend, helpers
//   src/autograd  -> autograd, kernels, backend, helpers
//   src/ops       -> ops, autograd, kernels, backend, helpers
//   src/nn        -> nn, ops, autograd, kernels, backend, helpers
//   src/*.ts      (root files: index.ts, memory.ts, ...) -> anything in src
//
// Folder files must not import a root src/*.ts file. No import cycles, except cycles wholly inside src/autograd/.
// A new folder under src/ must be added to the layers here before its files may import anything in src.

/** `^src/(a|b|c)/`: matches a file in one of the folders. */
const inFolders = (...folders) => `^src/(${folders.join('|')})/`;

/** A rule: files in `folder` may import from src/ only what is in `allowed` (their own folder is implied). */
const layer = (folder, allowed) => ({
  name: `layer-${folder}`,
  severity: 'error',
  comment: `src/${folder}/ may import only ${[folder, ...allowed].map((f) => `src/${f}/`).join(', ')} (and npm packages / node builtins)`,
  from: { path: inFolders(folder) },
  // folder files only: an import of a root src/*.ts file is no-root-from-folder's
  to: { path: '^src/[^/]+/', pathNot: inFolders(folder, ...allowed) },
});

const LAYERS = {
  backend: [],
  helpers: [],
  kernels: ['backend', 'helpers'],
  autograd: ['kernels', 'backend', 'helpers'],
  ops: ['autograd', 'kernels', 'backend', 'helpers'],
  nn: ['ops', 'autograd', 'kernels', 'backend', 'helpers'],
};

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...Object.entries(LAYERS).map(([folder, allowed]) => layer(folder, allowed)),
    {
      name: 'layer-unknown-folder',
      severity: 'error',
      comment: 'a folder under src/ that has no layer in .dependency-cruiser.cjs: add it to LAYERS there',
      from: { path: '^src/[^/]+/', pathNot: inFolders(...Object.keys(LAYERS)) },
      to: { path: '^src/' },
    },
    {
      name: 'no-root-from-folder',
      severity: 'error',
      comment: 'folder files must not import root src/*.ts files (src/index.ts, src/memory.ts, ...): only root files sit above every layer',
      from: { path: '^src/[^/]+/' },
      to: { path: '^src/[^/]+$' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'no import cycles (type-only imports included), except cycles wholly inside src/autograd/ (Tensor <-> tape)',
      from: {},
      // `via.pathNot`: the rule matches a cycle unless every module in it is under src/autograd/
      to: { circular: true, via: { pathNot: '^src/autograd/' } },
    },
    {
      name: 'src-not-to-outside',
      severity: 'error',
      comment: 'src/ is the published package: it must not import test/, examples/, bench/ or scripts/',
      from: { path: '^src/' },
      to: { path: '^(test|examples|bench|scripts)/' },
    },
    {
      name: 'src-not-to-dev-dep',
      severity: 'error',
      comment: 'src/ is the published package: an npm package it imports must be in dependencies, not devDependencies',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
  },
};
