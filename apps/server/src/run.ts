import {main} from './main.js';

// The process entry point: `bin/synod.js` runs the compiled form of this file.
process.exitCode = await main(process.argv.slice(2));
