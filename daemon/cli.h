/* The `conclave` command's subcommands, shared between main.c and their files. */
#ifndef CC_CLI_H
#define CC_CLI_H

int cc_cli_validate(int argc, char **argv);
/* Clients of the agent's HTTP API (-http-addr, CONCLAVE_HTTP_ADDR, CONSUL_HTTP_ADDR). */
int cc_cli_members(int argc, char **argv);
int cc_cli_join(int argc, char **argv);
int cc_cli_leave(int argc, char **argv);
int cc_cli_force_leave(int argc, char **argv);

#endif
