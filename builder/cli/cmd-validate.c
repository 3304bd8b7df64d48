/* kiln validate: load, check and expand profiles without writing anything. */
#include <getopt.h>

#include "preseed.h"
#include "profile-schema.h"
#include "cli.h"

int kiln_cmd_validate(int argc, char **argv)
{
        enum { OPT_DUMP_KEYS = 0x100 };
        static const struct option opts[] = {
                {"quiet", no_argument, NULL, 'q'},
                /* hidden: the schema table as "KEY|TYPE|DEFAULT|MEANING" lines, for the reference's test */
                {"dump-keys", no_argument, NULL, OPT_DUMP_KEYS},
                CLI_PROFILE_OPTIONS,
                {0},
        };
        bool quiet = false;
        int c;
        while ((c = getopt_long(argc, argv, "q", opts, NULL)) != -1) {
                if (c == 'q') {
                        quiet = true;
                } else if (c == OPT_DUMP_KEYS) {
                        _cleanup_free_ char *rows = kiln_schema_reference();
                        fputs(rows, stdout);
                        return KILN_EXIT_OK;
                } else if (cli_profile_option(c, optarg) != 0)
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
