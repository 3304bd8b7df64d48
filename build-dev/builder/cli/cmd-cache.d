build-dev/builder/cli/cmd-cache.o: builder/cli/cmd-cache.c \
 builder/cache/cache.h builder/media/fetch.h builder/basic/error.h \
 builder/basic/util.h builder/basic/hash.h builder/cli/cli.h \
 builder/profile/profile.h builder/profile/node.h
builder/cache/cache.h:
builder/media/fetch.h:
builder/basic/error.h:
builder/basic/util.h:
builder/basic/hash.h:
builder/cli/cli.h:
builder/profile/profile.h:
builder/profile/node.h:
