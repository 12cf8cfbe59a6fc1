// Loaded into every ava worker (package.json ava.require): once ava is done with a test file, the worker
// ends with process.exit instead of letting Node tear its environment down, which on Node 20 can spin at
// 100 % CPU forever (nodejs/node#47748; seen here as a worker stuck in Environment::CleanupHandles after
// all its tests passed, until ava's timeout failed the run). Nothing of the tests' results is lost: ava
// has sent them by the time completion handlers run.
import { registerCompletionHandler } from 'ava';

registerCompletionHandler(() => {
  process.exit();
});
