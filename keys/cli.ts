#!/usr/bin/env node
import { Argument } from 'commander';
import { createProgram, EXIT_OK, EXIT_USAGE, parseCommandLine, runCli } from '../common/cli/program';
import { generateKeyPair, readKeyFile, writeKeyFiles } from '../common/sockets/curve-keys';

const NAME = 'zerocam-keys';

function buildProgram() {
  const program = createProgram(NAME, 'Make and inspect the CURVE key files zerocam programs use to encrypt and authenticate their sockets.');
  program
    .command('generate')
    .description('write NAME.key (secret and public key, mode 0600) and NAME.pub (public key); never overwrites')
    .addArgument(new Argument('<name>', 'path and name without extension, e.g. keys/cam1'))
    .action((name: string) => {
      const { secretFile, publicFile } = writeKeyFiles(name, generateKeyPair());
      process.stdout.write(`${readKeyFile(publicFile).publicKey}\n`);
      process.stderr.write(`${NAME}: wrote ${secretFile} (keep it private) and ${publicFile} (give it to peers)\n`);
    });
  program
    .command('show')
    .description('print the public key of a .key or .pub file')
    .addArgument(new Argument('<file>', 'a .key or .pub file'))
    .action((file: string) => {
      process.stdout.write(`${readKeyFile(file).publicKey}\n`);
    });
  return program.addHelpText(
    'after',
    `
Examples:
  ${NAME} generate cam1          cam1.key for the camera, cam1.pub for whoever connects to it
  ${NAME} generate viewers/alice  then: zerocam-sender --curve-key cam1.key --curve-allow viewers/
  ${NAME} show cam1.key          the public key, to pass as --curve-server`,
  );
}

// The subcommands are synchronous: a refusal is thrown out of parse() as a one-line UsageError.
function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  if (argv.length === 0) {
    program.outputHelp({ error: true });
    return Promise.resolve(EXIT_USAGE);
  }
  parseCommandLine(program, argv);
  return Promise.resolve(EXIT_OK);
}

if (require.main === module) void runCli(NAME, process.argv.slice(2), main);
