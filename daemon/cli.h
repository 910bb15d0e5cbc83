/* The `conclave` command's subcommands, shared between main.c and their files. */
#ifndef CC_CLI_H
#define CC_CLI_H

int cc_cli_validate(int argc, char **argv);

#endif
