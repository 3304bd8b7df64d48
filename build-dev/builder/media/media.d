build-dev/builder/media/media.o: builder/media/media.c \
 builder/media/media.h builder/cache/cache.h builder/media/fetch.h \
 builder/basic/error.h builder/basic/util.h builder/basic/hash.h \
 builder/profile/profile.h builder/profile/node.h \
 builder/media/snapshot.h builder/media/archive-index.h \
 preseed-gen/preseed.h builder/media/installer-files.h
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
builder/media/installer-files.h:
