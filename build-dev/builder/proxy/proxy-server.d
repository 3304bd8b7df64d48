build-dev/builder/proxy/proxy-server.o: builder/proxy/proxy-server.c \
 builder/proxy/proxy.h builder/cache/cache.h builder/media/fetch.h \
 builder/basic/error.h builder/basic/util.h builder/basic/hash.h \
 builder/profile/profile.h builder/profile/node.h \
 builder/basic/addr-policy.h builder/media/archive-index.h \
 builder/media/snapshot.h
builder/proxy/proxy.h:
builder/cache/cache.h:
builder/media/fetch.h:
builder/basic/error.h:
builder/basic/util.h:
builder/basic/hash.h:
builder/profile/profile.h:
builder/profile/node.h:
builder/basic/addr-policy.h:
builder/media/archive-index.h:
builder/media/snapshot.h:
