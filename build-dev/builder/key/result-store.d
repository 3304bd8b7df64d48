build-dev/builder/key/result-store.o: builder/key/result-store.c \
 builder/key/key.h builder/media/media.h builder/cache/cache.h \
 builder/media/fetch.h builder/basic/error.h builder/basic/util.h \
 builder/basic/hash.h builder/profile/profile.h builder/profile/node.h \
 builder/media/snapshot.h builder/media/archive-index.h
builder/key/key.h:
builder/media/media.h:
builder/cache/cache.h:
builder/media/fetch.h:
builder/basic/error.h:
builder/basic/util.h:
builder/basic/hash.h:
builder/profile/profile.h:
builder/profile/node.h:
builder/media/snapshot.h:
builder/media/archive-index.h:
