import type { Command } from 'commander';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run the main job on the bundled MNIST teacher: inspect it and evaluate it on held-out digits')
    .action(async () => {
      throw new (await import('../../errors.js')).EdgelmError('usage', 'demo: not available yet');
    });
}
