build-dev/builder/cli/cmd-fetch.o: builder/cli/cmd-fetch.c \
 preseed-gen/preseed.h builder/profile/profile.h builder/profile/node.h \
 builder/basic/error.h builder/basic/util.h builder/media/media.h \
 builder/cache/cache.h builder/media/fetch.h builder/basic/hash.h \
 builder/media/snapshot.h builder/media/archive-index.h builder/cli/cli.h
preseed-gen/preseed.h:
builder/profile/profile.h:
builder/profile/node.h:
builder/basic/error.h:
builder/basic/util.h:
builder/media/media.h:
builder/cache/cache.h:
builder/media/fetch.h:
builder/basic/hash.h:
builder/media/snapshot.h:
builder/media/archive-index.h:
builder/cli/cli.h:
