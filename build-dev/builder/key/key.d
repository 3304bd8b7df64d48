build-dev/builder/key/key.o: builder/key/key.c builder/key/key.h \
 builder/media/media.h builder/cache/cache.h builder/media/fetch.h \
 builder/basic/error.h builder/basic/util.h builder/basic/hash.h \
 builder/profile/profile.h builder/profile/node.h \
 builder/media/snapshot.h builder/media/archive-index.h \
 preseed-gen/preseed.h builder/finish/manifest.h builder/finish/inspect.h \
 builder/proxy/proxy.h
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
preseed-gen/preseed.h:
builder/finish/manifest.h:
builder/finish/inspect.h:
builder/proxy/proxy.h:
