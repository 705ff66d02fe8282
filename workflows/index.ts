export * from './pipeline-run';
export * from './sweep';
export * from './rotation';
export * from './vault-key';
export * from './cleanup';
