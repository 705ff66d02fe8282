export * from './pipeline-run';
