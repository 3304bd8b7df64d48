build-dev/tests/builder/test-cache-import.o: \
 tests/builder/test-cache-import.c builder/cache/cache.h \
 builder/media/fetch.h builder/basic/error.h builder/basic/util.h \
 builder/basic/hash.h
builder/cache/cache.h:
builder/media/fetch.h:
builder/basic/error.h:
builder/basic/util.h:
builder/basic/hash.h:
