import { Command } from 'commander';
test('probe', () => { expect(typeof Command).toBe('function'); });
