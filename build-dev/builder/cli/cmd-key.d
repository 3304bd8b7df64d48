build-dev/builder/cli/cmd-key.o: builder/cli/cmd-key.c \
 builder/finish/finish.h builder/basic/error.h builder/basic/util.h \
 builder/profile/profile.h builder/profile/node.h builder/key/key.h \
 builder/media/media.h builder/cache/cache.h builder/media/fetch.h \
 builder/basic/hash.h builder/media/snapshot.h \
 builder/media/archive-index.h builder/cli/cli.h
builder/finish/finish.h:
builder/basic/error.h:
builder/basic/util.h:
builder/profile/profile.h:
builder/profile/node.h:
builder/key/key.h:
builder/media/media.h:
builder/cache/cache.h:
builder/media/fetch.h:
builder/basic/hash.h:
builder/media/snapshot.h:
builder/media/archive-index.h:
builder/cli/cli.h:
