build-dev/builder/cli/cmd-preseed.o: builder/cli/cmd-preseed.c \
 preseed-gen/preseed.h builder/profile/profile.h builder/profile/node.h \
 builder/basic/error.h builder/basic/util.h builder/cli/cli.h \
 builder/cache/cache.h builder/media/fetch.h builder/basic/hash.h
preseed-gen/preseed.h:
builder/profile/profile.h:
builder/profile/node.h:
builder/basic/error.h:
builder/basic/util.h:
builder/cli/cli.h:
builder/cache/cache.h:
builder/media/fetch.h:
builder/basic/hash.h:
