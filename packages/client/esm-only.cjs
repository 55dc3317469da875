'use strict';

// The "require" export condition leads here only on a Node.js that cannot require() an ES
// module: one older than 20.19 (or 22.12), or one run with --no-experimental-require-module.
// Newer ones take the "module-sync" condition and load the ES module itself, so CommonJS and
// ES module code share one copy of every class and of rxjs. Shipping a second, CommonJS
// build instead would give them two, and `instanceof` would fail across the copies.
const {name} = require('./package.json');

const error = new Error(
  `${name} is an ES module only, and this Node.js cannot require() it. ` +
    `Load it with \`await import('${name}')\` (this works from CommonJS too), ` +
    'or make this code an ES module ("type": "module" in its package.json, or an .mjs file). ' +
    'Node.js 20.19, 22.12 and newer require() it as it is.',
);
error.code = 'ERR_REQUIRE_ESM';
throw error;
