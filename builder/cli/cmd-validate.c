/* kiln validate: load, check and expand profiles without writing anything. */
#include <getopt.h>

#include "preseed.h"
#include "cli.h"

int kiln_cmd_validate(int argc, char **argv)
{
        static const struct option opts[] = {
                {"quiet", no_argument, NULL, 'q'},
                CLI_PROFILE_OPTIONS,
                {0},
        };
        bool quiet = false;
        int c;
        while ((c = getopt_long(argc, argv, "q", opts, NULL)) != -1) {
                if (c == 'q')
                        quiet = true;
                else if (cli_profile_option(c, optarg) != 0)
                        return cli_usage_error("validate", "run 'kiln validate --help' for usage");
        }
        if (optind >= argc)
                return cli_usage_error("validate", "no profile given; usage: kiln validate PROFILE...");

        int status = KILN_EXIT_OK;
        for (int i = optind; i < argc; i++) {
                _cleanup_profile_ struct kiln_profile *p = NULL;
                if (cli_load_profile(argv[i], &p, NULL) != 0) {
                        status = KILN_EXIT_USAGE;
                        continue;
                }
                if (!quiet)
                        printf("%s: ok (profile '%s', debian %s/%s)\n", argv[i], p->name, p->release, p->arch);
        }
        return status;
}
