// Parity: on the same random data, the Qdrant adapter (exact search, through the real client and the
// contract server) and the in-process ExactVectorIndex return the same top-K ids in the same order
// for the same filters.
//
// Scores differ in the last bits (Qdrant computes and returns float32; the in-process index sums in
// float64), and a real Qdrant does not promise any order among equal scores: the contract model
// breaks ties by Eddy id like the in-process index, but the check (parity.ts, assertSameRanking)
// does not rely on that. Vectors are mostly small integers, so exact ties (and the id tie-break) are
// common and near-ties rare.

import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { checkParity, scenarioArb, TINY_COSINE_SCENARIO } from './parity.js';
import { QdrantContractServer, specUnavailable } from './qdrant-contract-server.js';
import { assertNoViolations, storeOn } from './support.js';

const skip = specUnavailable();

describe('parity: Qdrant adapter (exact) vs in-process ExactVectorIndex', { skip }, () => {
  let server: QdrantContractServer;
  before(async () => {
    server = await QdrantContractServer.start();
  });
  after(async () => {
    await server?.close();
  });

  test('same top-K ids in the same order for the same filters on random data', async () => {
    const qdrant = storeOn(server, { collectionPrefix: 'parity_' });
    let run = 0;
    let exact = 0;
    let ranks = 0;
    try {
      await fc.assert(
        fc.asyncProperty(scenarioArb, async (scenario) => {
          const result = await checkParity(qdrant, `run${run++}`, scenario);
          exact += result.exact;
          ranks += result.ranks;
        }),
        { numRuns: 60 },
      );
    } finally {
      await qdrant.close();
    }
    console.log(`parity: ${exact} of ${ranks} ranks with the identical id over ${run} scenarios`);
    assertNoViolations(server);
  });

  test('cosine vectors too small for Qdrant to normalise (sum of squares < float32 epsilon) rank as in-process', async () => {
    const qdrant = storeOn(server, { collectionPrefix: 'tiny_' });
    try {
      await checkParity(qdrant, 'tiny', TINY_COSINE_SCENARIO);
    } finally {
      await qdrant.close();
    }
    assertNoViolations(server);
  });
});
