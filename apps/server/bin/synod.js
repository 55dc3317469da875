#!/usr/bin/env node
// The `synod` executable. It runs the compiled app: `npm start` (or `npm run build`) first.
import '../dist/run.js';
