build-dev/tests/fuzz/fuzz-proxy-url.o: tests/fuzz/fuzz-proxy-url.c \
 builder/proxy/proxy.h builder/cache/cache.h builder/media/fetch.h \
 builder/basic/error.h builder/basic/util.h builder/basic/hash.h \
 builder/profile/profile.h builder/profile/node.h
builder/proxy/proxy.h:
builder/cache/cache.h:
builder/media/fetch.h:
builder/basic/error.h:
builder/basic/util.h:
builder/basic/hash.h:
builder/profile/profile.h:
builder/profile/node.h:
