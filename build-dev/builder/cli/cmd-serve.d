build-dev/builder/cli/cmd-serve.o: builder/cli/cmd-serve.c \
 builder/serve/serve.h builder/basic/error.h builder/basic/util.h \
 builder/cli/cli.h builder/cache/cache.h builder/media/fetch.h \
 builder/basic/hash.h builder/profile/profile.h builder/profile/node.h
builder/serve/serve.h:
builder/basic/error.h:
builder/basic/util.h:
builder/cli/cli.h:
builder/cache/cache.h:
builder/media/fetch.h:
builder/basic/hash.h:
builder/profile/profile.h:
builder/profile/node.h:
