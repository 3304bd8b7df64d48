build-dev/builder/finish/manifest.o: builder/finish/manifest.c \
 builder/finish/manifest.h builder/finish/inspect.h builder/basic/error.h \
 builder/basic/util.h builder/media/media.h builder/cache/cache.h \
 builder/media/fetch.h builder/basic/hash.h builder/profile/profile.h \
 builder/profile/node.h builder/media/snapshot.h \
 builder/media/archive-index.h builder/proxy/proxy.h
builder/finish/manifest.h:
builder/finish/inspect.h:
builder/basic/error.h:
builder/basic/util.h:
builder/media/media.h:
builder/cache/cache.h:
builder/media/fetch.h:
builder/basic/hash.h:
builder/profile/profile.h:
builder/profile/node.h:
builder/media/snapshot.h:
builder/media/archive-index.h:
builder/proxy/proxy.h:
