// Run as a child process by test/integration/kafka-stop.test.ts: starts a KafkaEddy and stops it
// after argv[3] ms; the process must then exit on its own (nothing left holding the event loop).

import { KafkaEddy } from '../../streams/app/kafka.js';
import { DEFAULT_MODEL_CONFIG } from '../../streams/model/model-config.js';
import { topicNames } from '../../streams/pipeline/topics.js';

const [brokers = '127.0.0.1:9092', prefix = `start-stop-${Date.now()}`, delay = '0'] = process.argv.slice(2);
const eddy = new KafkaEddy({
  brokers: brokers.split(','),
  groupId: prefix,
  instanceId: 'a',
  topics: topicNames(prefix),
  partitions: 2,
  replicationFactor: 1,
  model: DEFAULT_MODEL_CONFIG,
  batchSize: 20,
  lingerMs: 10,
  sessionTimeoutMs: 10_000,
});
const { running } = await eddy.start();
await new Promise((resolve) => setTimeout(resolve, Number(delay)));
await eddy.stop();
await running;
process.stdout.write('stopped\n');
