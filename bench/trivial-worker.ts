/**
 * The trivial workflow's worker, as its own process (the broker's worker is one too): compiled by
 * scripts/bench.sh to lib/bench/trivial-worker.js and started by the bench with TEMPORAL_ADDRESS and
 * BENCH_TRIVIAL_TASK_QUEUE. Default worker options, like the broker's. Prints "polling" when ready;
 * SIGTERM stops it.
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { trivialActivities } from './trivial-activities';

async function main(): Promise<void> {
  const address = process.env.TEMPORAL_ADDRESS;
  const taskQueue = process.env.BENCH_TRIVIAL_TASK_QUEUE;
  if (!address || !taskQueue) throw new Error('TEMPORAL_ADDRESS and BENCH_TRIVIAL_TASK_QUEUE must be set');
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection,
    taskQueue,
    workflowsPath: require.resolve('./trivial-workflow'),
    activities: trivialActivities,
  });
  const stop = () => worker.shutdown();
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const running = worker.run();
  console.log(`trivial worker polling ${taskQueue}`);
  await running;
  await connection.close();
}

main().catch((err: Error) => {
  console.error(`trivial worker failed: ${err.stack ?? err.message}`);
  process.exit(1);
});
