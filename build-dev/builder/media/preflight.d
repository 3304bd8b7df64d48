build-dev/builder/media/preflight.o: builder/media/preflight.c \
 builder/media/archive-index.h builder/basic/error.h builder/basic/util.h \
 builder/media/fetch.h builder/media/installer-files.h \
 builder/cache/cache.h builder/basic/hash.h builder/media/media.h \
 builder/profile/profile.h builder/profile/node.h \
 builder/media/snapshot.h
builder/media/archive-index.h:
builder/basic/error.h:
builder/basic/util.h:
builder/media/fetch.h:
builder/media/installer-files.h:
builder/cache/cache.h:
builder/basic/hash.h:
builder/media/media.h:
builder/profile/profile.h:
builder/profile/node.h:
builder/media/snapshot.h:
