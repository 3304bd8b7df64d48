build-dev/builder/cli/cmd-batch.o: builder/cli/cmd-batch.c \
 builder/batch/batch.h builder/basic/error.h builder/basic/util.h \
 builder/cli/cli.h builder/cache/cache.h builder/media/fetch.h \
 builder/basic/hash.h builder/profile/profile.h builder/profile/node.h
builder/batch/batch.h:
builder/basic/error.h:
builder/basic/util.h:
builder/cli/cli.h:
builder/cache/cache.h:
builder/media/fetch.h:
builder/basic/hash.h:
builder/profile/profile.h:
builder/profile/node.h:
