export * from './pipeline-run';
export * from './sweep';
