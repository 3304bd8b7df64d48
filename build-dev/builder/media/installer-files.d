build-dev/builder/media/installer-files.o: \
 builder/media/installer-files.c builder/media/installer-files.h \
 builder/cache/cache.h builder/media/fetch.h builder/basic/error.h \
 builder/basic/util.h builder/basic/hash.h preseed-gen/preseed.h \
 builder/profile/profile.h builder/profile/node.h \
 builder/media/archive-index.h builder/profile/profile-files.h
builder/media/installer-files.h:
builder/cache/cache.h:
builder/media/fetch.h:
builder/basic/error.h:
builder/basic/util.h:
builder/basic/hash.h:
preseed-gen/preseed.h:
builder/profile/profile.h:
builder/profile/node.h:
builder/media/archive-index.h:
builder/profile/profile-files.h:
