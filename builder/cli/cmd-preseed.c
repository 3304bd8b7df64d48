/* kiln preseed: the complete preseed for one profile, on standard output or into a file. */
#include <getopt.h>

#include "preseed.h"
#include "cli.h"

int kiln_cmd_preseed(int argc, char **argv)
{
        static const struct option opts[] = {
                {"output", required_argument, NULL, 'o'},
                CLI_PROFILE_OPTIONS,
                {0},
        };
        const char *output = NULL;
        int c;
        while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
                if (c == 'o')
                        output = optarg;
                else if (cli_profile_option(c, optarg) != 0)
                        return cli_usage_error("preseed", "run 'kiln preseed --help' for usage");
        }
        if (argc - optind != 1)
                return cli_usage_error("preseed", "give exactly one profile; usage: kiln preseed [-o FILE] PROFILE");

        _cleanup_profile_ struct kiln_profile *p = NULL;
        _cleanup_error_ struct kiln_error *err = NULL;
        _cleanup_free_ char *text = NULL;
        int r = cli_load_profile(argv[optind], &p, &text);
        if (r != 0)
                return r;
        if (output) {
                if (write_file_atomic(output, text, strlen(text), &err) < 0) {
                        cli_print_errors(err);
                        return KILN_EXIT_FAILED;
                }
                return KILN_EXIT_OK;
        }
        if (fputs(text, stdout) < 0 || fflush(stdout) != 0) {
                perror("kiln: cannot write the preseed");
                return KILN_EXIT_FAILED;
        }
        return KILN_EXIT_OK;
}
