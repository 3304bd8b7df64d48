build-dev/builder/cache/cache-admin.o: builder/cache/cache-admin.c \
 builder/cache/cache.h builder/media/fetch.h builder/basic/error.h \
 builder/basic/util.h builder/basic/hash.h
builder/cache/cache.h:
builder/media/fetch.h:
builder/basic/error.h:
builder/basic/util.h:
builder/basic/hash.h:
