build-dev/builder/media/snapshot.o: builder/media/snapshot.c \
 builder/media/snapshot.h builder/media/archive-index.h \
 builder/basic/error.h builder/basic/util.h builder/cache/cache.h \
 builder/media/fetch.h builder/basic/hash.h builder/profile/profile.h \
 builder/profile/node.h
builder/media/snapshot.h:
builder/media/archive-index.h:
builder/basic/error.h:
builder/basic/util.h:
builder/cache/cache.h:
builder/media/fetch.h:
builder/basic/hash.h:
builder/profile/profile.h:
builder/profile/node.h:
