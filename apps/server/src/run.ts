import {main} from './main.js';
import {tuneHeap} from './tune-heap.js';

// The process entry point: `bin/synod.js` runs the compiled form of this file.
tuneHeap();
process.exitCode = await main(process.argv.slice(2));
