build-dev/builder/cli/build-reuse.o: builder/cli/build-reuse.c \
 builder/basic/hash.h builder/basic/error.h builder/basic/util.h \
 builder/finish/finish.h builder/profile/profile.h builder/profile/node.h \
 builder/key/key.h builder/media/media.h builder/cache/cache.h \
 builder/media/fetch.h builder/media/snapshot.h \
 builder/media/archive-index.h builder/cli/cli.h \
 builder/cli/build-reuse.h
builder/basic/hash.h:
builder/basic/error.h:
builder/basic/util.h:
builder/finish/finish.h:
builder/profile/profile.h:
builder/profile/node.h:
builder/key/key.h:
builder/media/media.h:
builder/cache/cache.h:
builder/media/fetch.h:
builder/media/snapshot.h:
builder/media/archive-index.h:
builder/cli/cli.h:
builder/cli/build-reuse.h:
