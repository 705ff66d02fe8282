export * from './pipeline-run';
export * from './sweep';
export * from './rotation';
